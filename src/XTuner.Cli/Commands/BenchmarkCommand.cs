using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using XTuner.Core;
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
            "doubles the length from the longest that worked until a run runs out of memory and bisects to --granularity.\n" +
            "--phases adds a table of seconds per step by phase (forward/attention, forward/matmul, backward/recompute,\n" +
            "optimizer...), each exclusive of the phases nested in it: what to speed up next.";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--lengths", "Sequence lengths, comma separated (128k style accepted).", "L1,L2"),
            new CliOption("--steps", "Steps per length (default 5; the first is warm-up; with 1, that one step is measured).", "N"),
            new CliOption("--device", "cpu or cuda (default: the config's).", "DEVICE"),
            new CliOption("--nproc-per-node", "Ranks on this machine (default: the config's gpus_per_node).", "N"),
            new CliOption("--find-max-length", "Also search the longest length that fits."),
            new CliOption("--granularity", "Bisection step of --find-max-length (default 8k).", "L"),
            new CliOption("--work-dir", "Where the runs go (default a temporary folder).", "DIR"),
            new CliOption("--cfg-options", "More key=value overrides for every run.", "KEY=VALUE", many: true),
            new CliOption("--output", "Also append one JSON line per run to FILE.", "FILE"),
            new CliOption("--phases", "Also time each step by phase (CUDA events on a GPU) and print where the time goes (rank 0's; the JSON lines get phase_times_s)."),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            var configSource = args.Single("CONFIG");
            var config = TrainCommand.LoadConfig(configSource);
            var lengths = (args.Get("--lengths") ?? config.MaxLength.ToString(CultureInfo.InvariantCulture))
                .Split(',').Select(ParseLength).ToList();
            int steps = args.GetInt("--steps") ?? 5;
            if (steps < 1) throw new CliUsageException("--steps must be 1 or more (the first of several is warm-up)");
            // The time says when; the random part keeps benchmarks started in the same second apart.
            var root = args.Get("--work-dir") ?? Path.Combine(Path.GetTempPath(),
                "xtuner-benchmark-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N").Substring(0, 8));
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
            runner.WriteChoices(output);
            if (args.Has("--phases")) runner.WritePhases(output);
            if (longest == 0)
                throw new XTunerException(ErrorIds.BenchmarkFailed,
                    $"No length trained ({string.Join(", ", lengths)}): the result column and the run's errors above say why (runs that started have their logs under {root}). " +
                    "Shorten --lengths, raise sequence_parallel_size (--cfg-options), or fix the config (xtuner train CONFIG --max-steps 2 shows its error).");
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
            private readonly List<string> _choices = new List<string>();
            private readonly List<(int Length, Dictionary<string, double> Seconds, double StepTime)> _phases = new List<(int, Dictionary<string, double>, double)>();

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
                var (exitCode, text) = RunSelf(argv, _args.Has("--phases"));
                // The first step warms up (allocator, kernels) and is left out, unless it is the only one (long lengths).
                var all = MetricsFile.Read(workDir);
                var metrics = all.Count == 1 ? all : all.Where(s => s.Step > 1).ToList();
                var effective = _config.Clone();
                ConfigYaml.ApplyOptions(effective, options);
                if (_args.Get("--device") is string device) ConfigYaml.SetOption(effective, "device", device);
                if (_args.Get("--nproc-per-node") is string ranksHere) ConfigYaml.SetOption(effective, "gpus_per_node", ranksHere);
                int sp = effective.SequenceParallelSize;
                var peaks = PeaksPerRank(workDir, text);
                var recompute = AutoRecompute(workDir, text);
                if (recompute is var (recomputed, layers, attentionKept))
                    _choices.Add($"{Human(length)}: activation_checkpointing auto recomputed {recomputed} of {layers} layers, {attentionKept} of them keeping attention instead of rerunning it");
                var perRank = string.Join(" / ", peaks.Select(p => p.Device.ToString("F2", CultureInfo.InvariantCulture)));
                bool oom = OutOfMemory.IsMatch(text);
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
                    var phases = AveragePhases(metrics);
                    if (phases != null) _phases.Add((length, phases, stepTime));
                    Append(effective, length, ranks, true, null, stepTime, metrics.Average(m => m.OptimizerSeconds), tps, mfu, mem, peaks, phases, recompute);
                    return (true, false, row);
                }
                // The failing rank's own first error line says what failed (libtorch's message precedes its C++ trace).
                var firstError = FirstError(workDir, text);
                oom |= firstError != null && OutOfMemory.IsMatch(firstError);
                var reason = oom ? "out of memory" : $"failed (exit {exitCode}; see {workDir}/logs or below)";
                row = $"| {Human(length)} | {sp} | | | | | | | {reason} |";
                Console.Error.WriteLine(firstError ?? string.Join(Environment.NewLine, text.Split('\n').Reverse().Take(15).Reverse()));
                Append(effective, length, 0, false, oom ? "out of memory" : firstError ?? $"exit {exitCode}", null, null, null, null, null, peaks);
                return (false, oom, row);
            }

            /// <summary>
            /// Each rank's peak device and host memory and, on CUDA, the whole device's memory in use, from the "rank N peak
            /// memory X GiB, host Y GiB, device Z GiB" lines of its log (or the single process's output), in rank order.
            /// </summary>
            private static List<(double Device, double Host, double InUse)> PeaksPerRank(string workDir, string output)
            {
                var logDir = new WorkDirLayout(workDir).Logs;
                var logs = Directory.Exists(logDir)
                    ? Directory.GetFiles(logDir, "rank*.log").Select(File.ReadAllText)
                    : new[] { output };
                return logs.SelectMany(t => t.Split('\n'))
                    .Select(l => PeakLine.Match(l))
                    .Where(m => m.Success)
                    .OrderBy(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))
                    .Select(m => (double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
                        Number(m.Groups[3]), Number(m.Groups[4])))
                    .ToList();
            }

            /// <summary>What activation_checkpointing auto chose (rank 0's line): layers recomputed, of layers, and recomputed layers keeping attention.</summary>
            private static (int Recomputed, int Layers, int AttentionKept)? AutoRecompute(string workDir, string output)
            {
                var log = new WorkDirLayout(workDir).RankLog(0);
                return XTuner.Training.Engine.AutoRecomputeLine.Find(File.Exists(log) ? File.ReadAllText(log) : "")
                       ?? XTuner.Training.Engine.AutoRecomputeLine.Find(output);
            }

            /// <summary>The first error line of the ranks' logs (or of the run's own output), at most 500 characters.</summary>
            private static string? FirstError(string workDir, string output)
            {
                var logDir = new WorkDirLayout(workDir).Logs;
                var texts = (Directory.Exists(logDir) ? Directory.GetFiles(logDir, "rank*.log").OrderBy(f => f, StringComparer.Ordinal).Select(File.ReadAllText) : Enumerable.Empty<string>())
                    .Append(output);
                var line = texts.SelectMany(t => t.Split('\n')).Select(l => l.Trim())
                    .FirstOrDefault(l => ErrorLine.IsMatch(l) && l.IndexOf("XTunerRankFailed", StringComparison.Ordinal) < 0);
                return line == null ? null : line.Length <= 500 ? line : line.Substring(0, 500);
            }

            /// <summary>Each phase's mean seconds over the measured steps (a phase a step did not enter counts 0 there); null without phase times.</summary>
            private static Dictionary<string, double>? AveragePhases(IReadOnlyList<XTunerStep> metrics)
            {
                if (metrics.Count == 0 || metrics.Any(m => m.PhaseSeconds == null)) return null;
                return metrics.SelectMany(m => m.PhaseSeconds!.Keys).Distinct().OrderBy(k => k, StringComparer.Ordinal)
                    .ToDictionary(k => k, k => metrics.Average(m => m.PhaseSeconds!.TryGetValue(k, out var s) ? s : 0.0));
            }

            /// <summary>What activation_checkpointing auto chose at each length, under the table.</summary>
            public void WriteChoices(TextWriter output)
            {
                if (_choices.Count == 0) return;
                output.WriteLine();
                foreach (var choice in _choices) output.WriteLine(choice);
            }

            /// <summary>The phase table: seconds per step and share of the step for each phase, a column per length.</summary>
            public void WritePhases(TextWriter output)
            {
                if (_phases.Count == 0) return;
                var c = CultureInfo.InvariantCulture;
                output.WriteLine();
                output.WriteLine("Where a step's time goes (rank 0, seconds per step and share; each phase without the phases nested in it):");
                output.WriteLine("| phase | " + string.Join(" | ", _phases.Select(p => Human(p.Length))) + " |");
                output.WriteLine("| --- |" + string.Concat(_phases.Select(_ => " --- |")));
                foreach (var name in _phases.SelectMany(p => p.Seconds.Keys).Distinct().OrderBy(k => k, StringComparer.Ordinal))
                    output.WriteLine($"| {name} | " + string.Join(" | ", _phases.Select(p => p.Seconds.TryGetValue(name, out var s)
                        ? string.Format(c, "{0:F4} ({1:P1})", s, s / p.Seconds.Values.Sum()) : "-")) + " |");
                output.WriteLine("| total (step time) | " + string.Join(" | ", _phases.Select(p => string.Format(c, "{0:F4} ({1:F4})", p.Seconds.Values.Sum(), p.StepTime))) + " |");
            }

            /// <summary>
            /// One JSON line per run with what tells it apart from another run of the same config: the model's
            /// parameter count, the device, precision, parallel layout, memory options, attention (documents kept
            /// apart, and the synthetic documents' length), fused_kernels, whether weights were cast per layer (cast_weights_per_layer resolved), what a layer that keeps
            /// attention keeps (kept_attention: cuDNN's "output" alone or the autograd "graph"), the host memory available (what offload_activations auto
            /// fills), and what activation_checkpointing auto chose (recomputed_layers, attention_kept_layers; null where it did not choose).
            /// </summary>
            private void Append(XTunerConfig run, int length, int ranks, bool ok, string? error, double? stepTime, double? optimizerTime, double? tps, double? mfu, double? mem,
                IReadOnlyList<(double Device, double Host, double InUse)> peaks, IReadOnlyDictionary<string, double>? phases = null,
                (int Recomputed, int Layers, int AttentionKept)? recompute = null)
            {
                if (_jsonOutput == null) return;
                var c = CultureInfo.InvariantCulture;
                string Text(string? t) => t == null ? "null" : "\"" + t.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
                string List(IEnumerable<double> values) => "[" + string.Join(",", values.Select(v => double.IsNaN(v) ? "null" : v.ToString("R", c))) + "]";
                var line = string.Format(c,
                    "{{\"config\":{0},\"parameters\":{1},\"device\":{2},\"dtype\":{3},\"length\":{4},\"sp\":{5},\"ranks\":{6},\"zero_stage\":{7}," +
                    "\"activation_checkpointing\":{8},\"offload_optimizer\":{9},\"offload_activations\":{10},\"mlp_tiles\":{11}," +
                    "\"use_varlen_attn\":{23},\"synthetic_document_length\":{24},\"host_memory_gib\":{25},\"fused_kernels\":{26}," +
                    "\"ok\":{12},\"error\":{13},\"step_time_s\":{14},\"optimizer_time_s\":{21},\"tokens_per_sec_per_gpu\":{15},\"mfu\":{16},\"max_memory_gib\":{17}," +
                    "\"peak_device_gib_per_rank\":{18},\"peak_host_gib_per_rank\":{19},\"device_in_use_gib_per_rank\":{22},\"phase_times_s\":{27},\"recomputed_layers\":{28},\"attention_kept_layers\":{29},\"cast_weights_per_layer\":{30},\"kept_attention\":{31},\"date\":\"{20:yyyy-MM-dd}\"}}",
                    Text(_config.Name), run.Model.ParameterCount?.ToString(c) ?? "null", Text(ConfigValues.FormatEnum(run.Device)), Text(ConfigValues.FormatEnum(run.DType)),
                    length, run.SequenceParallelSize, ranks > 0 ? ranks : run.WorldSize, run.ZeroStage,
                    Layers(run.ActivationCheckpointing), Bool(run.OffloadOptimizer), Text(run.OffloadActivations.ToString()), Text(run.MlpTiles.ToString()),
                    Bool(ok), Text(error), Json(stepTime), Json(tps), Json(mfu), Json(mem),
                    List(peaks.Select(p => p.Device)), List(peaks.Select(p => p.Host)), DateTime.UtcNow, Json(optimizerTime), List(peaks.Select(p => p.InUse)),
                    Bool(run.IsolatesDocuments), run.SyntheticDocumentLength,
                    Json(XTuner.Training.Engine.HostMemoryBudget.AvailableBytes() is long host ? Math.Round(host / (double)(1L << 30), 1) : (double?)null),
                    Text(ConfigValues.FormatEnum(run.FusedKernels)),
                    phases == null ? "null" : "{" + string.Join(",", phases.Select(p => Text(p.Key) + ":" + Json(p.Value))) + "}",
                    recompute is var (recomputed, _, _) ? recomputed.ToString(c) : "null", recompute is var (_, _, kept) ? kept.ToString(c) : "null",
                    Bool(run.CastsWeightsPerLayer(ranks > 0 ? ranks : run.WorldSize)),
                    Text(XTuner.Core.Planning.RecomputeBudget.KeepsAttentionOutputOnly(run) ? "output" : "graph"));
                File.AppendAllText(_jsonOutput, line + "\n");
            }

            private static double Number(System.Text.RegularExpressions.Group g) =>
                g.Success ? double.Parse(g.Value, CultureInfo.InvariantCulture) : double.NaN;

            private static string Bool(bool b) => b ? "true" : "false";

            /// <summary>true, false or a layer count as JSON's boolean or number; auto as a string.</summary>
            private static string Layers(LayerCount layers) => layers.IsAuto ? "\"auto\"" : layers.ToString();

            private static string Json(double? v) => v is double d ? d.ToString("R", CultureInfo.InvariantCulture) : "null";

            private static (int ExitCode, string Output) RunSelf(IEnumerable<string> argv, bool phases)
            {
                var worker = WorkerLocator.Find(AppContext.BaseDirectory);
                var info = new ProcessStartInfo(worker.FileName) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
                if (phases) info.Environment[XTuner.Training.Engine.StepPhases.EnvironmentVariable] = "1";
                foreach (var a in worker.With(argv)) info.ArgumentList.Add(a);
                using var process = Process.Start(info)!;
                // A benchmark stopped from outside (Ctrl+C, SIGTERM from timeout or a job scheduler) takes its run with it:
                // a run left behind would hold the GPU and host memory the next measurement needs.
                void Stop(System.Runtime.InteropServices.PosixSignalContext _)
                {
                    try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                }
                using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, Stop);
                using var interrupt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, Stop);
                var text = new StringBuilder();
                process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (text) text.AppendLine(e.Data); };
                process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (text) text.AppendLine(e.Data); };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                process.WaitForExit();
                return (process.ExitCode, text.ToString());
            }
        }

        private static readonly System.Text.RegularExpressions.Regex ErrorLine =
            new System.Text.RegularExpressions.Regex(@"error \[|Exception:|^Error:|CUDA error|out of memory", System.Text.RegularExpressions.RegexOptions.IgnoreCase);

        private static readonly System.Text.RegularExpressions.Regex PeakLine =
            new System.Text.RegularExpressions.Regex(@"^rank (\d+) peak memory ([0-9.]+) GiB(?:, host ([0-9.]+) GiB)?(?:, device ([0-9.]+) GiB)?");

        /// <summary>
        /// How a run that ran out of memory reads, whichever phase it was in: libtorch's CUDA allocator ("CUDA out of
        /// memory"), cuBLAS and cuDNN workspaces, the CUDA runtime, host allocations, and XTunerOutOfMemory.
        /// </summary>
        internal static readonly System.Text.RegularExpressions.Regex OutOfMemory = new System.Text.RegularExpressions.Regex(
            @"out of memory|XTunerOutOfMemory|XTunerOutOfHostMemory|CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_ALLOC_FAILED|cudaErrorMemoryAllocation|std::bad_alloc",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase);

        private static string Human(int length) => length % 1024 == 0 ? $"{length / 1024}k" : length.ToString(CultureInfo.InvariantCulture);
    }
}
