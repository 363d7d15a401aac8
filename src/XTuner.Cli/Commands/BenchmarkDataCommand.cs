using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Datasets;
using XTuner.Core.Launch;
using XTuner.Core.Runs;

namespace XTuner.Cli.Commands
{
    /// <summary>
    /// <c>xtuner benchmark-data</c>: what the dataset cache costs and saves on a large text corpus. Generates a text
    /// JSONL of --size-mb (seeded, reused when it is there), prepares its cache (time, threads, size), then trains the
    /// tiny Llama on it for two steps with --nproc-per-node ranks and reports each rank's peak resident memory against
    /// the same run on an almost empty dataset, and the time from launch to the first step. --in-memory adds the run
    /// without a cache (every rank tokenizes the whole file itself) for comparison.
    /// </summary>
    public sealed class BenchmarkDataCommand : CliCommand
    {
        private static readonly Regex PeakLine = new Regex(@"^rank (\d+) peak memory ([0-9.]+) GiB", RegexOptions.Multiline);

        public override string Name => "benchmark-data";

        public override string Summary => "Measure the dataset cache: preparation time, size, rank memory and time to the first step.";

        public override string Description =>
            "Generates a text JSONL of --size-mb under --data (kept for later runs; never under the repository), prepares\n" +
            "its dataset cache with xtuner prepare-data, then trains the tiny Llama on it for 2 steps on --nproc-per-node\n" +
            "CPU ranks from the cache, and on a 64-line dataset for a baseline. Prints a Markdown table: preparation time and\n" +
            "threads, cache size, each rank's peak resident memory and the time from launch to the first step.\n" +
            "--in-memory also trains with dataset_cache_dir: none (each rank tokenizes everything, as before the cache).";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--tokenizer", "tokenizer.json (or folder) to tokenize with.", "PATH"),
            new CliOption("--data", "The generated JSONL (default /tmp/xtuner-benchmark-data/text-SIZEmb.jsonl).", "FILE"),
            new CliOption("--size-mb", "Size of the generated JSONL in MB (default 1024).", "N"),
            new CliOption("--work-dir", "A new folder for the caches and runs (default /tmp/xtuner-benchmark-data/runs-TIME).", "DIR"),
            new CliOption("--nproc-per-node", "CPU ranks of each training run (default 2).", "N"),
            new CliOption("--max-length", "Tokens per packed sequence (default 2048).", "N"),
            new CliOption("--in-memory", "Also train without the cache (slow: every rank tokenizes the whole file)."),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            var tokenizer = Path.GetFullPath(args.Get("--tokenizer") ?? throw new CliUsageException("--tokenizer PATH is required"));
            var sizeMb = args.GetInt("--size-mb") ?? 1024;
            var root = Path.Combine(Path.GetTempPath(), "xtuner-benchmark-data");
            var data = Path.GetFullPath(args.Get("--data") ?? Path.Combine(root, $"text-{sizeMb}mb.jsonl"));
            var work = Path.GetFullPath(args.Get("--work-dir") ?? Path.Combine(root, "runs-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)));
            var ranks = args.GetInt("--nproc-per-node") ?? 2;
            var maxLength = args.GetInt("--max-length") ?? 2048;
            if (Directory.Exists(work) && Directory.EnumerateFileSystemEntries(work).Any())
                throw new CliUsageException($"--work-dir {work} is not empty; name a new folder (the caches and runs go there)");
            Directory.CreateDirectory(work);

            if (!File.Exists(data) || new FileInfo(data).Length < sizeMb * 1_000_000L)
            {
                output.WriteLine($"Generating {sizeMb} MB of text JSONL in {data} ...");
                TextCorpus.Write(data, sizeMb * 1_000_000L);
            }
            var small = Path.Combine(work, "small.jsonl");
            TextCorpus.Write(small, 0, lines: 64);
            var lines = File.ReadLines(data).LongCount();
            var cacheDir = Path.Combine(work, "cache");
            var large = Config(work, "large", data, tokenizer, maxLength, ranks, cacheDir);
            var baseline = Config(work, "small", small, tokenizer, maxLength, ranks, Path.Combine(work, "small-cache"));

            output.WriteLine($"Data: {data} ({new FileInfo(data).Length / 1e9:F2} GB, {lines:N0} lines); tokenizer {tokenizer}; " +
                             $"{ranks} CPU ranks, max_length {maxLength}, {Environment.ProcessorCount} cores{LoadAverage()}");
            var clock = Stopwatch.StartNew();
            var (prepared, prepareOutput) = RunSelf(new[] { "prepare-data", large }, null);
            var prepareSeconds = clock.Elapsed.TotalSeconds;
            if (prepared != 0)
            {
                Console.Error.WriteLine(prepareOutput);
                return 1;
            }
            var manifest = Directory.GetDirectories(cacheDir).Select(DatasetCacheManifest.TryRead).Single(m => m != null)!;

            var empty = Train(baseline, Path.Combine(work, "train-small"));
            var cached = Train(large, Path.Combine(work, "train-cached"));
            var memory = args.Has("--in-memory") ? Train(large, Path.Combine(work, "train-in-memory"), "dataset_cache_dir=none") : null;
            if (empty == null || cached == null || (args.Has("--in-memory") && memory == null)) return 1;

            var c = CultureInfo.InvariantCulture;
            var cacheBytes = manifest.SizeBytes;
            output.WriteLine($"Done{LoadAverage()}.");
            output.WriteLine();
            output.WriteLine("| measure | value |");
            output.WriteLine("| --- | --- |");
            output.WriteLine(string.Format(c, "| prepare (xtuner prepare-data, whole process) | {0:F1} s, {1} tokenizing threads, {2:F1} MB/s of JSONL |",
                prepareSeconds, manifest.BuildThreads, new FileInfo(data).Length / 1e6 / prepareSeconds));
            output.WriteLine(string.Format(c, "| samples, tokens, sequences | {0:N0}, {1:N0}, {2:N0} |", manifest.Stats.Samples, manifest.Stats.Tokens, manifest.Sequences));
            output.WriteLine(string.Format(c, "| cache size | {0:F3} GB ({1:F2} bytes per token) |", cacheBytes / 1e9, cacheBytes / (double)Math.Max(1, manifest.Tokens)));
            output.WriteLine($"| peak resident memory per rank, 64-line dataset | {empty.Peaks} GiB |");
            output.WriteLine($"| peak resident memory per rank, from the cache | {cached.Peaks} GiB |");
            output.WriteLine($"| increase per rank over the 64-line dataset | {Increase(cached, empty, cacheBytes)} |");
            output.WriteLine(string.Format(c, "| launch to the start / end of step 1, cache prepared | {0:F1} s / {1:F1} s (64-line dataset: {2:F1} s / {3:F1} s) |",
                cached.FirstStepStartSeconds, cached.FirstStepSeconds, empty.FirstStepStartSeconds, empty.FirstStepSeconds));
            if (memory != null)
            {
                output.WriteLine($"| peak resident memory per rank, in memory (dataset_cache_dir: none) | {memory.Peaks} GiB |");
                output.WriteLine($"| increase per rank over the 64-line dataset, in memory | {Increase(memory, empty, cacheBytes)} |");
                output.WriteLine(string.Format(c, "| launch to the start / end of step 1, in memory | {0:F1} s / {1:F1} s |", memory.FirstStepStartSeconds, memory.FirstStepSeconds));
            }
            return 0;
        }

        private static string Increase(RunResult run, RunResult baseline, long cacheBytes)
        {
            var c = CultureInfo.InvariantCulture;
            return string.Join(" / ", run.PeakGib.Zip(baseline.PeakGib, (a, b) => (a - b) * (1L << 30)).Select(d =>
                string.Format(c, "{0:F0} MiB ({1:F1}% of the cache)", d / (1 << 20), 100 * d / cacheBytes)));
        }

        /// <summary>tiny-llama with the BPE tokenizer, text data and one data-parallel rank per process; written as YAML.</summary>
        private static string Config(string work, string name, string data, string tokenizer, int maxLength, int ranks, string cacheDir)
        {
            var config = ConfigCatalogue.Get("tiny-llama");
            config.Name = "benchmark-data-" + name;
            config.Tokenizer = tokenizer;
            config.Model.VocabSize = Training.Tokenization.TokenizerLoader.Load(tokenizer).VocabSize;
            config.DataFiles = new List<string> { data };
            config.DatasetFormat = DatasetFormat.Text;
            config.MaxLength = maxLength;
            config.GpusPerNode = ranks;
            config.MaxSteps = 2;
            config.LoggingInterval = 1;
            config.DatasetCacheDir = cacheDir;
            var path = Path.Combine(work, name + ".yaml");
            ConfigYaml.Save(config, path);
            return path;
        }

        /// <summary>The machine's load, which the times depend on where other work shares the cores.</summary>
        private static string LoadAverage() =>
            File.Exists("/proc/loadavg") ? "; load average " + string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "";

        private sealed class RunResult
        {
            /// <summary>From launch until step 1 ends (rank 0 appends it to metrics.jsonl).</summary>
            public double FirstStepSeconds { get; init; }

            /// <summary>From launch until step 1 starts: everything before training (processes, rendezvous, data, model).</summary>
            public double FirstStepStartSeconds { get; init; }

            public IReadOnlyList<double> PeakGib { get; init; } = Array.Empty<double>();

            public string Peaks => string.Join(" / ", PeakGib.Select(p => p.ToString("F3", CultureInfo.InvariantCulture)));
        }

        /// <summary>Trains a config; the time to the first step is when rank 0 appends step 1 to metrics.jsonl.</summary>
        private static RunResult? Train(string config, string workDir, params string[] options)
        {
            var argv = new List<string> { "train", config, "--work-dir", workDir };
            if (options.Length > 0)
            {
                argv.Add("--cfg-options");
                argv.AddRange(options);
            }
            double? firstStep = null;
            var clock = Stopwatch.StartNew();
            var (exit, text) = RunSelf(argv, () =>
            {
                if (firstStep == null && MetricsFile.Read(workDir).Count > 0) firstStep = clock.Elapsed.TotalSeconds;
            });
            if (exit != 0)
            {
                Console.Error.WriteLine(text);
                return null;
            }
            var logs = string.Join("\n", Directory.GetFiles(Path.Combine(workDir, "logs"), "rank*.log").Select(File.ReadAllText));
            var peaks = PeakLine.Matches(logs).Cast<Match>()
                .OrderBy(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))
                .Select(m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)).ToList();
            var end = firstStep ?? clock.Elapsed.TotalSeconds;
            var stepOne = MetricsFile.Read(workDir).FirstOrDefault()?.StepTimeSeconds ?? 0;
            return new RunResult { FirstStepSeconds = end, FirstStepStartSeconds = end - stepOne, PeakGib = peaks };
        }

        /// <summary>Runs this xtuner with <paramref name="argv"/>, calling <paramref name="poll"/> every 50 ms until it exits.</summary>
        private static (int ExitCode, string Output) RunSelf(IEnumerable<string> argv, Action? poll)
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
            while (!process.WaitForExit(50))
                poll?.Invoke();
            process.WaitForExit();
            poll?.Invoke();
            return (process.ExitCode, text.ToString());
        }
    }
}
