using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Core.Runs;

namespace XTuner.Cli.Commands
{
    /// <summary>
    /// <c>xtuner benchmark CONFIG --lengths 8k,32k</c>: trains each sequence length for a few steps in its own process
    /// (random weights, synthetic tokens: no checkpoint or data needed) and reports step time, tokens/s/GPU, MFU and
    /// peak memory from the run's metrics, skipping the first (warm-up) step. With --find-max-length it then grows the
    /// length until a run fails for memory, and reports the longest that trained.
    /// </summary>
    public sealed class BenchmarkCommand : CliCommand
    {
        public override string Name => "benchmark";

        public override string Summary => "Measure training speed and memory of a config at several sequence lengths.";

        public override string Arguments => "CONFIG";

        public override string Description =>
            "Trains CONFIG with random weights on synthetic tokens for --steps steps at each --lengths value, each in a\n" +
            "fresh process, and prints a Markdown table: step time, tokens/s/GPU, MFU and peak memory (the first step is\n" +
            "warm-up and not counted). Lengths past the model's positions get linear RoPE scaling. --find-max-length then\n" +
            "doubles the length from the longest that worked until a run runs out of memory and bisects to --granularity.";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--lengths", "Sequence lengths, comma separated (128k style accepted).", "L1,L2"),
            new CliOption("--steps", "Steps per length (default 5; the first is warm-up).", "N"),
            new CliOption("--device", "cpu or cuda (default: the config's).", "DEVICE"),
            new CliOption("--nproc-per-node", "Ranks on this machine (default: the config's gpus_per_node).", "N"),
            new CliOption("--find-max-length", "Also search the longest length that fits."),
            new CliOption("--granularity", "Bisection step of --find-max-length (default 8k).", "L"),
            new CliOption("--work-dir", "Where the runs go (default a temporary folder).", "DIR"),
            new CliOption("--cfg-options", "More key=value overrides for every run.", "KEY=VALUE", many: true),
            new CliOption("--output", "Also append one JSON line per run to FILE.", "FILE"),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            var configSource = args.Single("CONFIG");
            var config = TrainCommand.LoadConfig(configSource);
            var lengths = (args.Get("--lengths") ?? config.MaxLength.ToString(CultureInfo.InvariantCulture))
                .Split(',').Select(ParseLength).ToList();
            int steps = args.GetInt("--steps") ?? 5;
            if (steps < 2) throw new CliUsageException("--steps must be 2 or more (the first step is warm-up)");
            var root = args.Get("--work-dir") ?? Path.Combine(Path.GetTempPath(), "xtuner-benchmark-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss"));
            var runner = new Runner(configSource, config, args, steps, root, args.Get("--output"));
            output.WriteLine($"Benchmark of {config.Name} ({config.ModelName}), {steps} steps per length, runs in {root}");
            output.WriteLine("| length | SP | ranks | step time (s) | tokens/s/GPU | MFU | peak GiB (rank 0) | peak GiB per rank | result |");
            output.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            int longest = 0;
            foreach (var length in lengths)
            {
                var result = runner.Run(length);
                output.WriteLine(result.Row);
                if (result.Ok) longest = Math.Max(longest, length);
            }
            if (args.Has("--find-max-length") && longest > 0)
            {
                int granularity = ParseLength(args.Get("--granularity") ?? "8k");
                int low = longest, high = 0;
                for (int length = longest * 2; high == 0; length *= 2)
                {
                    var result = runner.Run(length);
                    output.WriteLine(result.Row);
                    if (result.Ok) low = length;
                    else if (result.OutOfMemory) high = length;
                    else return 1;
                }
                while (high - low > granularity)
                {
                    int mid = (low + high) / 2 / granularity * granularity;
                    if (mid <= low) break;
                    var result = runner.Run(mid);
                    output.WriteLine(result.Row);
                    if (result.Ok) low = mid;
                    else if (result.OutOfMemory) high = mid;
                    else return 1;
                }
                output.WriteLine($"Longest sequence that trained: {low} tokens ({low / 1024}k); {high} ran out of memory.");
            }
            return 0;
        }

        internal static int ParseLength(string text)
        {
            if (ConfigValues.TryConvertScalar(typeof(int), text.Trim(), out var value, out var error)) return (int)value!;
            throw new CliUsageException($"'{text}': {error}");
        }

        private sealed class Runner
        {
            private readonly string _source;
            private readonly XTunerConfig _config;
            private readonly CliArguments _args;
            private readonly int _steps;
            private readonly string _root;
            private readonly string? _jsonOutput;

            public Runner(string source, XTunerConfig config, CliArguments args, int steps, string root, string? jsonOutput)
            {
                _source = source;
                _config = config;
                _args = args;
                _steps = steps;
                _root = root;
                _jsonOutput = jsonOutput;
            }

            public (bool Ok, bool OutOfMemory, string Row) Run(int length)
            {
                var workDir = Path.Combine(_root, $"len{length}");
                var options = new List<string>
                {
                    "random_init=true", "dataset_format=synthetic", $"max_length={length}", "save_steps=0", "logging_interval=1",
                };
                long positions = _config.Model.MaxPositionEmbeddings ?? length;
                if (length > (_config.Model.SupportedPositions ?? positions))
                {
                    options.Add("model.rope_scaling.rope_type=linear");
                    options.Add("model.rope_scaling.factor=" + Math.Ceiling(length / (double)positions).ToString(CultureInfo.InvariantCulture));
                }
                options.AddRange(_args.GetAll("--cfg-options"));
                var argv = new List<string> { "train", _source, "--work-dir", workDir, "--max-steps", _steps.ToString(CultureInfo.InvariantCulture) };
                if (_args.Get("--device") is string d) argv.AddRange(new[] { "--device", d });
                if (_args.Get("--nproc-per-node") is string n) argv.AddRange(new[] { "--nproc-per-node", n });
                argv.Add("--cfg-options");
                argv.AddRange(options);
                var (exitCode, text) = RunSelf(argv);
                var metrics = MetricsFile.Read(workDir).Where(s => s.Step > 1).ToList();
                var effective = _config.Clone();
                ConfigYaml.ApplyOptions(effective, _args.GetAll("--cfg-options"));
                int sp = effective.SequenceParallelSize;
                var perRank = PeakPerRank(workDir, text);
                bool oom = text.IndexOf("out of memory", StringComparison.OrdinalIgnoreCase) >= 0;
                string row;
                if (exitCode == 0 && metrics.Count > 0)
                {
                    double stepTime = metrics.Average(m => m.StepTimeSeconds);
                    double tps = metrics.Average(m => m.TokensPerSecondPerGpu);
                    var mfu = metrics.All(m => m.Mfu.HasValue) ? metrics.Average(m => m.Mfu!.Value) : (double?)null;
                    double mem = metrics.Max(m => m.MaxMemoryGib);
                    int ranks = (int)Math.Round(metrics[0].Tokens / Math.Max(1e-9, metrics[0].TokensPerSecondPerGpu * metrics[0].StepTimeSeconds));
                    row = string.Format(CultureInfo.InvariantCulture, "| {0} | {1} | {2} | {3:F2} | {4:N0} | {5} | {6:F2} | {7} | ok |",
                        Human(length), sp, ranks, stepTime, tps, mfu is double m ? m.ToString("P1", CultureInfo.InvariantCulture) : "-", mem, perRank);
                    Append(length, true, stepTime, tps, mfu, mem);
                    return (true, false, row);
                }
                var reason = oom ? "out of memory" : $"failed (exit {exitCode}; see {workDir}/logs or below)";
                row = $"| {Human(length)} | {sp} | | | | | | | {reason} |";
                // The run's own error lines say where it failed (e.g. which allocation ran out of memory).
                var errors = text.Split('\n').Where(l => l.IndexOf("error", StringComparison.OrdinalIgnoreCase) >= 0).Take(3).ToList();
                Console.Error.WriteLine(oom && errors.Count > 0 ? string.Join(Environment.NewLine, errors)
                    : string.Join(Environment.NewLine, text.Split('\n').Reverse().Take(15).Reverse()));
                Append(length, false, null, null, null, null);
                return (false, oom, row);
            }

            /// <summary>"rank N peak memory X GiB" lines from each rank's log (or the single process's output).</summary>
            private static string PeakPerRank(string workDir, string output)
            {
                var logDir = new WorkDirLayout(workDir).Logs;
                var logs = Directory.Exists(logDir)
                    ? Directory.GetFiles(logDir, "rank*.log").Select(File.ReadAllText)
                    : new[] { output };
                var peaks = logs.SelectMany(t => t.Split('\n'))
                    .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"^rank (\d+) peak memory ([0-9.]+) GiB"))
                    .Where(m => m.Success)
                    .OrderBy(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))
                    .Select(m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture).ToString("F2", CultureInfo.InvariantCulture));
                return string.Join(" / ", peaks);
            }

            private void Append(int length, bool ok, double? stepTime, double? tps, double? mfu, double? mem)
            {
                if (_jsonOutput == null) return;
                var line = string.Format(CultureInfo.InvariantCulture,
                    "{{\"config\":\"{0}\",\"length\":{1},\"sp\":{2},\"ok\":{3},\"step_time_s\":{4},\"tokens_per_sec_per_gpu\":{5},\"mfu\":{6},\"max_memory_gib\":{7},\"date\":\"{8:yyyy-MM-dd}\"}}",
                    _config.Name, length, _config.SequenceParallelSize, ok ? "true" : "false", Json(stepTime), Json(tps), Json(mfu), Json(mem), DateTime.UtcNow);
                File.AppendAllText(_jsonOutput, line + "\n");
            }

            private static string Json(double? v) => v is double d ? d.ToString("R", CultureInfo.InvariantCulture) : "null";

            private static (int ExitCode, string Output) RunSelf(IEnumerable<string> argv)
            {
                var worker = WorkerLocator.Find(AppContext.BaseDirectory);
                var info = new ProcessStartInfo(worker.FileName) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in worker.With(argv)) info.ArgumentList.Add(a);
                using var process = Process.Start(info)!;
                var text = new StringBuilder();
                process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (text) text.AppendLine(e.Data); };
                process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (text) text.AppendLine(e.Data); };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                process.WaitForExit();
                return (process.ExitCode, text.ToString());
            }
        }

        private static string Human(int length) => length % 1024 == 0 ? $"{length / 1024}k" : length.ToString(CultureInfo.InvariantCulture);
    }
}
