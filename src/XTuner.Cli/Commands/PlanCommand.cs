using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Core.Planning;

namespace XTuner.Cli.Commands
{
    /// <summary>
    /// <c>xtuner plan CONFIG [--gpus N] [--gpu-memory 141GiB] [--host-memory 2TiB] [--max-length L]</c>: the predicted
    /// memory and speed of every layout of a config, the fastest that fits, and what would fit when nothing does.
    /// </summary>
    public sealed class PlanCommand : CliCommand
    {
        private const int DefaultRows = 15;

        public override string Name => "plan";

        public override string Summary => "Predict memory and speed of every SP / ZeRO / offload / recompute layout, and pick the fastest that fits.";

        public override string Arguments => "CONFIG";

        public override string Description =>
            "For CONFIG (a YAML file or a built-in name) on --gpus GPUs, predicts each layout's peak GPU memory per rank,\n" +
            "host memory per node, step time and tokens/s/GPU, and recommends the fastest that fits. --cfg-options pins\n" +
            "choices (sequence_parallel_size, zero_stage, offload_optimizer, offload_activations, activation_checkpointing,\n" +
            "mlp_tiles: only layouts with the given value are shown) and changes anything else (max_length, model.*).\n" +
            "Every constant of the model is printed and can be changed with --assume name=value[,name=value]. When no\n" +
            "layout fits, it says what would (more GPUs, a shorter sequence, offload) and exits 1 (XTunerNoLayoutFits).\n" +
            "--validate compares the model with the benchmark results recorded in examples/benchmarks/results.";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--gpus", "GPUs in all (default: the config's nodes x gpus_per_node).", "N"),
            new CliOption("--gpu-memory", "Memory of one GPU (default 141GiB, an H200; binary units: 80GiB, 141G).", "SIZE"),
            new CliOption("--host-memory", "Host memory of one node, checked against offload (default: not checked).", "SIZE"),
            new CliOption("--max-length", "Tokens per sequence (default: the config's max_length; 128k style accepted).", "L"),
            new CliOption("--cfg-options", "key=value: pins a layout choice, or overrides any other key.", "KEY=VALUE", many: true),
            new CliOption("--assume", "Override the model's assumptions: name=value[,name=value] (printed with every plan).", "NAME=VALUE", many: true),
            new CliOption("--all", "Also list the layouts that do not fit (default: the fastest that fit)."),
            new CliOption("--json", "One JSON line per layout instead of the table."),
            new CliOption("--validate", "Compare predictions with the recorded benchmarks in DIR (default examples/benchmarks/results).", "DIR", optionalValue: true),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            var assumptions = PlanAssumptions.Default.With(PlanAssumptions.Parse(args.GetAll("--assume")));
            if (args.Has("--validate")) return Validate(args.Get("--validate") ?? PlanValidation.ResultsFolder, assumptions, output);
            var request = Request(args, assumptions);
            var plans = Planner.Plan(request);
            if (args.Has("--json"))
            {
                foreach (var p in plans) output.WriteLine(JsonSerializer.Serialize(PlanJson.Of(p)));
            }
            else
            {
                Print(request, plans, args.Has("--all"), output);
            }
            // After the table (the layouts closest to fitting are in --all and --json), the advice is the error.
            if (Planner.Advice(request, plans) is string advice) throw new XTunerException(ErrorIds.NoLayoutFits, advice);
            return 0;
        }

        private static PlanRequest Request(CliArguments args, PlanAssumptions assumptions)
        {
            var config = TrainCommand.LoadConfig(args.Single("CONFIG"));
            var options = args.GetAll("--cfg-options");
            ConfigYaml.ApplyOptions(config, options);
            var request = new PlanRequest(config)
            {
                Gpus = args.GetInt("--gpus"),
                MaxLength = args.Get("--max-length") is string l ? BenchmarkCommand.ParseLength(l) : (int?)null,
                Assumptions = assumptions,
            };
            if (request.Gpus is int g && g < 1) throw new CliUsageException("--gpus must be 1 or more");
            if (args.Get("--gpu-memory") is string gpu) request.GpuMemoryBytes = MemorySize.Parse(gpu, "--gpu-memory");
            if (args.Get("--host-memory") is string host) request.HostMemoryBytes = MemorySize.Parse(host, "--host-memory");
            foreach (var key in options.Select(o => o.Split('=')[0].Trim()).Where(Planner.PinnableKeys.Contains))
                request.Pinned.Add(key);
            return request;
        }

        private static void Print(PlanRequest request, IReadOnlyList<XTunerPlan> plans, bool all, TextWriter output)
        {
            var config = Planner.Effective(request);
            int gpus = plans.FirstOrDefault()?.Gpus ?? request.Gpus ?? config.WorldSize;
            output.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "Plan for {0} ({1}, {2:N0} parameters) at {3:N0} tokens on {4} GPU(s) of {5:F0} GiB{6}; predictions, not measurements.",
                config.Name, config.ModelName, config.Model.ParameterCount, config.MaxLength, gpus, request.GpuMemoryBytes / PlanAssumptions.Gib,
                request.HostMemoryBytes is double h ? string.Format(CultureInfo.InvariantCulture, ", {0:F0} GiB of host memory per node", h / PlanAssumptions.Gib) : ""));
            if (request.Pinned.Count > 0)
                output.WriteLine("Pinned: " + string.Join(", ", request.Pinned.OrderBy(k => k, StringComparer.Ordinal)));
            output.WriteLine();
            var fit = plans.Where(p => p.Fits).ToList();
            var shown = all ? plans.ToList() : fit.Take(DefaultRows).ToList();
            if (shown.Count > 0)
            {
                output.WriteLine("|   | SP | DP | ZeRO | offload optimizer | offload activations | recompute | GPU GiB | host GiB/node | step s | tokens/s/GPU | MFU | fits |");
                output.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
                foreach (var p in shown)
                    output.WriteLine(string.Format(CultureInfo.InvariantCulture,
                        "| {0} | {1} | {2} | {3} | {4} | {5} | {6} | {7:F1} | {8:F1} | {9:F2} | {10:N0} | {11:P1} | {12} |",
                        p.Recommended ? "*" : "", p.SequenceParallelSize, p.DataParallelSize, p.ZeroStage, YesNo(p.OffloadOptimizer),
                        p.OffloadedLayers == 0 ? "no" : p.OffloadedLayers.ToString(CultureInfo.InvariantCulture) + " layers",
                        Recompute(p), p.PeakGpuMemoryGiB, p.HostMemoryPerNodeGiB, p.StepTimeSeconds,
                        p.TokensPerSecondPerGpu, p.Mfu, p.Fits ? "yes" : "no: " + p.Limit));
                if (!all && fit.Count > shown.Count)
                    output.WriteLine($"({fit.Count - shown.Count} more layouts fit; --all lists every layout, --json prints them as JSON lines)");
                output.WriteLine();
            }
            if (plans.FirstOrDefault(p => p.Recommended) is XTunerPlan best)
            {
                var m = best.Memory;
                output.WriteLine(string.Format(CultureInfo.InvariantCulture,
                    "Recommended: {0}: {1:F1} GiB per GPU (weights {2:F1}, gradients {3:F1}, optimizer {4:F1}, activations {5:F1}, one layer {6:F1}, " +
                    "workspaces {7:F1}, buffers {8:F1}, context {9:F1}), {10:F2} s per step, {11:N0} tokens/s/GPU.",
                    best.Layout, best.PeakGpuMemoryGiB, G(m.Parameters), G(m.Gradients), G(m.OptimizerStates), G(m.Activations), G(m.LayerWorkingSet),
                    G(m.Workspaces), G(m.CommunicationBuffers), G(m.Context), best.StepTimeSeconds, best.TokensPerSecondPerGpu));
                output.WriteLine("  --cfg-options " + string.Join(" ", Assignments(best)));
                output.WriteLine();
            }
            output.WriteLine("Assumptions (--assume name=value to change; defaults calibrated on one H200, see README 'Plan before you rent GPUs'):");
            foreach (var a in request.Assumptions.All)
                output.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-28} {1,8:G4} {2}{3}", a.Name, a.Value, a.Unit, a.Overridden ? " (given)" : ""));
        }

        /// <summary>The recompute column: no, yes (every layer), or how many layers, and how many of those keep attention.</summary>
        internal static string Recompute(XTunerPlan plan)
        {
            int layers = plan.Config.Model.NumHiddenLayers ?? 0, recomputed = plan.RecomputedLayers, kept = recomputed - plan.AttentionRecomputedLayers;
            if (recomputed == 0) return "no";
            var text = recomputed >= layers ? "yes" : $"{recomputed} of {layers} layers";
            return kept > 0 ? $"{text}, {kept} keep attention" : text;
        }

        /// <summary>The --cfg-options that train <paramref name="plan"/>'s layout.</summary>
        internal static IEnumerable<string> Assignments(XTunerPlan plan)
        {
            yield return $"{Planner.SequenceParallelKey}={plan.SequenceParallelSize}";
            yield return $"{Planner.ZeroStageKey}={plan.ZeroStage}";
            yield return $"{Planner.ActivationCheckpointingKey}={plan.Layout.ActivationCheckpointing}";
            yield return $"{Planner.OffloadOptimizerKey}={(plan.OffloadOptimizer ? "true" : "false")}";
            yield return $"{Planner.OffloadActivationsKey}={plan.Layout.OffloadActivations.ToString().ToLowerInvariant()}";
        }

        private static int Validate(string folder, PlanAssumptions assumptions, TextWriter output)
        {
            var results = PlanValidation.Cases(folder).Select(c => PlanValidation.Evaluate(c, assumptions)).ToList();
            output.Write(PlanValidation.Table(results));
            output.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "{0} cases; largest peak error {1:F1}% (allowed 10%), largest step-time error {2:F1}% (allowed 15%).",
                results.Count, results.Select(r => Math.Abs(r.PeakErrorPercent)).DefaultIfEmpty().Max(),
                results.Select(r => Math.Abs(r.StepErrorPercent ?? 0)).DefaultIfEmpty().Max()));
            return 0;
        }

        private static string YesNo(bool value) => value ? "yes" : "no";

        private static double G(double bytes) => bytes / PlanAssumptions.Gib;
    }
}
