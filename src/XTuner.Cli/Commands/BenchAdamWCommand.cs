using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using XTuner.Training.Optim;

namespace XTuner.Cli.Commands
{
    /// <summary><c>xtuner bench-adamw</c>: the host AdamW of offload_optimizer, libtorch's kernels against the fused SIMD pass.</summary>
    public sealed class BenchAdamWCommand : CliCommand
    {
        public override string Name => "bench-adamw";

        public override string Summary => "Time the CPU AdamW of offload_optimizer (libtorch against fused SIMD).";

        public override string Description =>
            "Updates --elements float32 parameters (with their two moments) on the CPU with --threads threads, --repeats times\n" +
            "after one warm-up step, with libtorch's CPU kernels and with the fused SIMD pass offload_optimizer uses, and prints\n" +
            "the median step time and the state bytes moved per second (read g, p, m, v; write p, m, v).";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--elements", "Parameters to update (default 256m; 128k style accepted).", "N"),
            new CliOption("--threads", "CPU threads (default: all cores).", "N"),
            new CliOption("--repeats", "Timed steps after the warm-up (default 5).", "N"),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            long elements = BenchmarkCommand.ParseLength(args.Get("--elements") ?? "256m");
            int threads = args.GetInt("--threads") ?? Environment.ProcessorCount;
            int repeats = args.GetInt("--repeats") ?? 5;
            if (elements < 1 || threads < 1 || repeats < 1) throw new CliUsageException("--elements, --threads and --repeats must be 1 or more");
            output.WriteLine("| method | elements | threads | s/step | GB/s |");
            output.WriteLine("| --- | --- | --- | --- | --- |");
            foreach (var r in AdamWBenchmark.Run(elements, threads, repeats))
                output.WriteLine(string.Format(CultureInfo.InvariantCulture, "| {0} | {1:N0} | {2} | {3:F3} | {4:F1} |",
                    r.Method, r.Elements, r.Threads, r.SecondsPerStep, r.GigabytesPerSecond));
            return 0;
        }
    }
}
