using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using TorchSharp;
using XTuner.Core.Launch;
using XTuner.Training.Distributed;
using static TorchSharp.torch;

namespace XTuner.Cli.Commands
{
    /// <summary>
    /// <c>xtuner check-collectives</c>: run as every rank of a world (torchrun's or SLURM's variables), it checks each
    /// collective of the backend against closed-form results. How NCCL is verified on a GPU machine.
    /// </summary>
    public sealed class CheckCollectivesCommand : CliCommand
    {
        private static readonly Dictionary<string, ScalarType> DTypes = new Dictionary<string, ScalarType>(StringComparer.OrdinalIgnoreCase)
        {
            ["float32"] = ScalarType.Float32,
            ["float64"] = ScalarType.Float64,
            ["bfloat16"] = ScalarType.BFloat16,
            ["float16"] = ScalarType.Float16,
            ["int64"] = ScalarType.Int64,
            ["int32"] = ScalarType.Int32,
        };

        public override string Name => "check-collectives";

        public override string Summary => "Check every collective of the distributed backend on this world (diagnostic).";

        public override string Description =>
            "Start it as every rank of a world, with torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,\n" +
            "MASTER_ADDR, MASTER_PORT) or under srun with --launcher slurm. Each collective (all_reduce sum/avg/max/min,\n" +
            "all_gather, reduce_scatter, all_to_all, broadcast, barrier) runs on the world group and on sub-groups (pairs of\n" +
            "ranks and the world in reverse order, or the SP and DP groups of --sp N), for each dtype and size, and is compared\n" +
            "with its closed-form result. n is the elements per member (one member's chunk for all_gather, reduce_scatter and\n" +
            "all_to_all). Each group's first member prints 'ok ...' lines with the time; a wrong result prints 'FAIL ...' from\n" +
            "the rank that saw it. Exit code 1 when any check failed on any rank. With --device cuda even a one-rank world\n" +
            "runs NCCL (a one-rank communicator); --ranks-per-gpu N checks the host-staged path of ranks that share a GPU.";

        public override bool Hidden => true;

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--device", "cpu (TCP backend, the default) or cuda (NCCL).", "DEVICE"),
            new CliOption("--dtypes", "Comma-separated: " + string.Join(",", DTypes.Keys) + " (default: all).", "LIST"),
            new CliOption("--sizes", "Comma-separated element counts per member (default: 0,1,7,1048576).", "LIST"),
            new CliOption("--ops", "Comma-separated: " + string.Join(",", CollectiveCheckOptions.AllOperations) + " (default: all).", "LIST"),
            new CliOption("--sp", "Check the SP and DP groups of a layout with this sequence-parallel size instead of pairs.", "N"),
            new CliOption("--ranks-per-gpu", "Ranks sharing each GPU (ranks_per_gpu): checks the host-staged TCP path NCCL's place takes (on cpu: the staging itself).", "N"),
            new CliOption("--timeout", "Seconds to wait for missing ranks or silent peers (default: 300).", "SECONDS"),
            new CliOption("--launcher", "Where the rank variables come from: torchrun (default) or slurm.", "LAUNCHER"),
            new CliOption("--fail-rank", "That rank exits after its first check, to see the others fail cleanly (failure drill).", "RANK"),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            if (args.Positionals.Count > 0) throw new CliUsageException($"unexpected argument '{args.Positionals[0]}'");
            var device = (args.Get("--device") ?? "cpu").ToLowerInvariant() switch
            {
                "cpu" => DeviceType.CPU,
                "cuda" => DeviceType.CUDA,
                var other => throw new CliUsageException($"--device takes cpu or cuda, not '{other}'"),
            };
            var launcher = (args.Get("--launcher") ?? "torchrun").ToLowerInvariant();
            if (launcher != "torchrun" && launcher != "slurm") throw new CliUsageException($"--launcher takes torchrun or slurm, not '{launcher}'");
            var options = new CollectiveCheckOptions
            {
                SequenceParallelSize = args.GetInt("--sp"),
                FailRank = args.GetInt("--fail-rank"),
            };
            if (args.Get("--dtypes") is string dtypes) options.DTypes = List(dtypes, "--dtypes", ParseDType);
            if (args.Get("--sizes") is string sizes) options.Sizes = List(sizes, "--sizes", ParseSize);
            if (args.Get("--ops") is string ops) options.Operations = List(ops, "--ops", ParseOperation);
            double seconds = args.Get("--timeout") is string timeout ? ParseSeconds(timeout) : 300;

            var env = RankEnvironment.FromProcess(slurm: launcher == "slurm");
            torch.set_num_threads(env.CpuThreadsPerRank(Environment.ProcessorCount));
            using var runtime = DistributedRuntime.Initialize(env, device, TimeSpan.FromSeconds(seconds), communicatorForOneRank: true,
                ranksPerGpu: args.GetInt("--ranks-per-gpu") ?? 1);
            long failures = CollectiveChecks.Run(runtime, options, output);
            return failures == 0 ? 0 : 1;
        }

        private static IReadOnlyList<T> List<T>(string text, string option, Func<string, T> parse)
        {
            var items = text.Split(',').Select(s => s.Trim()).Where(s => s.Length > 0).ToList();
            if (items.Count == 0) throw new CliUsageException($"{option} needs at least one value");
            return items.Select(parse).ToList();
        }

        private static ScalarType ParseDType(string name) =>
            DTypes.TryGetValue(name, out var dtype) ? dtype : throw new CliUsageException($"--dtypes: unknown dtype '{name}' (use {string.Join(", ", DTypes.Keys)})");

        private static long ParseSize(string text) =>
            long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new CliUsageException($"--sizes: '{text}' is not an element count");

        private static string ParseOperation(string name) =>
            CollectiveCheckOptions.AllOperations.Contains(name.ToLowerInvariant())
                ? name.ToLowerInvariant()
                : throw new CliUsageException($"--ops: unknown operation '{name}' (use {string.Join(", ", CollectiveCheckOptions.AllOperations)})");

        private static double ParseSeconds(string text) =>
            double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0
                ? s
                : throw new CliUsageException($"--timeout takes a positive number of seconds, not '{text}'");
    }
}
