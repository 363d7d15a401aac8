using System.Collections.Generic;
using System.Linq;
using System.Text;
using XTuner.Core.Configuration;

namespace XTuner.Core.Launch
{
    /// <summary>One rank to start: its place in the world, its device and the environment it reads.</summary>
    public sealed class RankSpec
    {
        public int Rank { get; set; }

        public int LocalRank { get; set; }

        public int Node { get; set; }

        /// <summary><c>cpu</c> or <c>cuda:N</c>.</summary>
        public string Device { get; set; } = "cpu";

        /// <summary>This rank's own variables, over <see cref="LaunchPlan.SharedEnvironment"/>: torchrun's (see
        /// <see cref="RankEnvironment.ToTorchrunVariables"/>), and XTUNER_EVENTS for rank 0.</summary>
        public Dictionary<string, string> Environment { get; set; } = new Dictionary<string, string>();
    }

    /// <summary>
    /// Everything a launch will do, decided before anything starts: what <c>-WhatIf</c> prints and what the
    /// launcher runs.
    /// </summary>
    public sealed class LaunchPlan
    {
        public XTunerConfig Config { get; set; } = new XTunerConfig();

        public string WorkDir { get; set; } = "";

        /// <summary>The config the ranks read (written into the work dir when the launch starts).</summary>
        public string ConfigPath { get; set; } = "";

        public WorkerCommand Worker { get; set; } = new WorkerCommand("xtuner", new string[0]);

        /// <summary>Arguments after the worker: <c>train CONFIG --launcher pytorch ...</c>.</summary>
        public List<string> Arguments { get; set; } = new List<string>();

        public List<RankSpec> Ranks { get; set; } = new List<RankSpec>();

        public IReadOnlyList<IReadOnlyList<int>> SequenceParallelGroups { get; set; } = new List<IReadOnlyList<int>>();

        public IReadOnlyList<IReadOnlyList<int>> DataParallelGroups { get; set; } = new List<IReadOnlyList<int>>();

        /// <summary>Environment every rank gets; each rank's own (<see cref="RankSpec.Environment"/>) goes over it.</summary>
        public Dictionary<string, string> SharedEnvironment { get; set; } = new Dictionary<string, string>();

        public string Describe()
        {
            var c = Config;
            var sb = new StringBuilder();
            sb.AppendLine($"Launch plan for '{c.Name}' ({c.ModelName})");
            sb.AppendLine($"  work dir     {WorkDir}");
            sb.AppendLine($"  config       {ConfigPath}");
            sb.AppendLine($"  world        {Ranks.Count} rank(s) on {c.Nodes} node(s), {ConfigValues.FormatEnum(c.Device)}, {ConfigValues.FormatEnum(c.DType)}");
            sb.AppendLine($"  parallelism  sequence parallel {c.SequenceParallelSize} x data parallel {c.DataParallelSize}, ZeRO stage {c.ZeroStage}");
            sb.AppendLine($"  SP groups    {Groups(SequenceParallelGroups)}");
            sb.AppendLine($"  DP groups    {Groups(DataParallelGroups)}");
            sb.AppendLine($"  sequence     {c.MaxLength} tokens, {c.MaxLength / System.Math.Max(1, c.SequenceParallelSize)} per rank; batch {c.BatchSize} x {c.AccumulativeCounts} accumulation");
            sb.AppendLine("  environment");
            foreach (var pair in SharedEnvironment.OrderBy(p => p.Key, System.StringComparer.Ordinal))
                sb.AppendLine($"    {pair.Key}={pair.Value}");
            sb.AppendLine("  ranks");
            foreach (var r in Ranks)
            {
                var env = string.Join(" ", r.Environment.OrderBy(p => p.Key, System.StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
                sb.AppendLine($"    rank {r.Rank} (node {r.Node}, local {r.LocalRank}, {r.Device}): {env}");
            }
            sb.AppendLine("  command");
            sb.AppendLine($"    {Worker} {string.Join(" ", Arguments.Select(WorkerCommand.Quote))}");
            return sb.ToString();
        }

        /// <summary>The plan as <see cref="Describe"/> writes it (how PowerShell shows it in an information record).</summary>
        public override string ToString() => Describe();

        private static string Groups(IReadOnlyList<IReadOnlyList<int>> groups) =>
            string.Join(" ", groups.Select(g => "{" + string.Join(",", g) + "}"));
    }
}
