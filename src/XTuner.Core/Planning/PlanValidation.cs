using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;

namespace XTuner.Core.Planning
{
    /// <summary>
    /// Checks the planner against the benchmark results recorded in a folder of JSON lines
    /// (examples/benchmarks/results): every line with <c>ok: true</c>, a memory figure and a command naming a catalogue
    /// config is a case, predicted with the same config, overrides, length and ranks. A line marked
    /// <c>superseded</c> (a build since changed, kept beside its successor's line as the before of a before/after) or
    /// <c>not_modelled</c> (an option the planner does not model yet, named in the field: sliding windows, say)
    /// is history, not a case. A line's <c>fused_kernels</c> and <c>cast_weights_per_layer</c> fields are how its run trained
    /// (each false for a line without it: it ran before the option existed), and so is <c>kept_attention: output</c>; with
    /// activation_checkpointing auto, its <c>recomputed_layers</c> and <c>attention_kept_layers</c> are the split predicted.
    /// </summary>
    public static class PlanValidation
    {
        /// <summary>The folder of results relative to the repository root.</summary>
        public const string ResultsFolder = "examples/benchmarks/results";

        /// <summary>Every case in the *.jsonl files of <paramref name="folder"/>, in file and line order.</summary>
        public static IReadOnlyList<BenchmarkCase> Cases(string folder)
        {
            if (!Directory.Exists(folder))
                throw new XTunerException(ErrorIds.PathNotFound, $"No benchmark results folder '{folder}' (the repository's is {ResultsFolder}).");
            var cases = new List<BenchmarkCase>();
            foreach (var file in Directory.GetFiles(folder, "*.jsonl").OrderBy(f => f, StringComparer.Ordinal))
            {
                int number = 0;
                foreach (var line in File.ReadLines(file))
                {
                    number++;
                    if (line.Trim().Length == 0) continue;
                    using var json = JsonDocument.Parse(line);
                    if (Read(json.RootElement, Path.GetFileName(file), number) is BenchmarkCase c) cases.Add(c);
                }
            }
            return cases;
        }

        /// <summary>The planner's prediction for <paramref name="benchmark"/>.</summary>
        public static ValidationResult Evaluate(BenchmarkCase benchmark, PlanAssumptions? assumptions = null)
        {
            var config = ConfigCatalogue.Get(benchmark.Config);
            ConfigYaml.ApplyOptions(config, benchmark.RecordedOptions
                .Concat(benchmark.Options).Concat(benchmark.ResolvedOptions).Concat(new[] { "max_length=" + benchmark.Length.ToString(CultureInfo.InvariantCulture) }));
            config.Nodes = 1;
            config.GpusPerNode = benchmark.Ranks;
            return new ValidationResult(benchmark, Planner.ForConfig(config, PlanHardware.DefaultGpuMemoryGiB * PlanAssumptions.Gib, assumptions,
                benchmark.HostMemoryGib * PlanAssumptions.Gib));
        }

        /// <summary>A Markdown table of the results: case, measured and predicted peak and step time, errors.</summary>
        public static string Table(IEnumerable<ValidationResult> results)
        {
            var sb = new StringBuilder();
            sb.AppendLine("| case | measured peak GiB | predicted GiB | error | measured step s | predicted s | error |");
            sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
            foreach (var r in results)
                sb.AppendLine(string.Format(CultureInfo.InvariantCulture, "| {0} | {1:F2} | {2:F2} | {3:+0.0;-0.0}% | {4} | {5:F2} | {6} |",
                    Describe(r), r.Case.MeasuredPeakGib, r.PredictedPeakGib, r.PeakErrorPercent,
                    r.Case.MeasuredStepSeconds is double s ? s.ToString("F2", CultureInfo.InvariantCulture) : "",
                    r.PredictedStepSeconds,
                    r.StepErrorPercent is double e ? e.ToString("+0.0;-0.0", CultureInfo.InvariantCulture) + "%" : ""));
            return sb.ToString();
        }

        // The file and line, the model's size and the length, and the options other than the model's dimensions.
        private static string Describe(ValidationResult r) => string.Format(CultureInfo.InvariantCulture, "{0}:{1} {2:0.#}B, {3}k{4}",
            r.Case.File, r.Case.Line, (r.Plan.Config.Model.ParameterCount ?? 0) / 1e9, r.Case.Length / 1024,
            string.Concat(r.Case.Options.Where(o => !o.StartsWith("model.", StringComparison.Ordinal)).Select(o => ", " + o)));

        private static BenchmarkCase? Read(JsonElement e, string file, int line)
        {
            if (e.ValueKind != JsonValueKind.Object || !Bool(e, "ok") || e.TryGetProperty("superseded", out _) || e.TryGetProperty("not_modelled", out _) || !(Number(e, "max_memory_gib") is double peak) ||
                !(Number(e, "length") is double length) || !(e.TryGetProperty("command", out var c) && c.ValueKind == JsonValueKind.String))
                return null;
            var (config, options, nproc, device) = ParseCommand(c.GetString()!);
            if (config == null || !ConfigCatalogue.Contains(config)) return null;
            // How the run trained: its line says (since the options exist); a line without a field ran before its option.
            var fused = e.TryGetProperty("fused_kernels", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString()! : "false";
            var cast = e.TryGetProperty("cast_weights_per_layer", out var w) && w.ValueKind == JsonValueKind.True ? "true" : "false";
            if (e.TryGetProperty("device", out var d) && d.ValueKind == JsonValueKind.String) device = d.GetString();
            int ranks = (int)(Number(e, "ranks") ?? nproc ?? 1);
            bool cuda = device == null || device == "cuda";
            var trained = new List<string> { "fused_kernels=" + fused, "cast_weights_per_layer=" + cast };
            // kept_attention "output": a build whose kept attention keeps cuDNN's output alone where every row is one
            // document, so the case is the benchmark's synthetic data; a line without it kept the graph whatever the data,
            // which is what the planner predicts for the config's packed documents.
            if (e.TryGetProperty("kept_attention", out var k) && k.ValueKind == JsonValueKind.String && k.GetString() == "output")
                trained.AddRange(new[] { "dataset_format=synthetic", "synthetic_document_length=" + ((int)(Number(e, "synthetic_document_length") ?? 0)).ToString(CultureInfo.InvariantCulture) });
            // The split activation_checkpointing auto chose, where the line records it.
            var resolved = new List<string>();
            if (options.Contains("activation_checkpointing=auto") && Number(e, "recomputed_layers") is double recomputed && Number(e, "attention_kept_layers") is double kept)
                resolved.AddRange(new[] { FormattableString.Invariant($"activation_checkpointing={recomputed}"), FormattableString.Invariant($"recompute_attention={recomputed - kept}") });
            return new BenchmarkCase(file, line, config, options, (int)length, ranks, peak, cuda ? Number(e, "step_time_s") : null, Number(e, "host_memory_gib"),
                trained, resolved);
        }

        /// <summary>The config, --cfg-options, --nproc-per-node and --device of an <c>xtuner benchmark</c> command line.</summary>
        internal static (string? Config, IReadOnlyList<string> Options, int? Ranks, string? Device) ParseCommand(string command)
        {
            // A command may follow the script that ran it, after '#'.
            var text = command.Contains("# xtuner") ? command.Substring(command.IndexOf("# xtuner", StringComparison.Ordinal) + 2) : command;
            var words = text.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            int at = Array.IndexOf(words, "benchmark");
            if (at < 0 || at + 1 >= words.Length) return (null, Array.Empty<string>(), null, null);
            var options = new List<string>();
            int? ranks = null;
            string? device = null;
            for (int i = at + 2; i < words.Length; i++)
            {
                if (words[i] == "--cfg-options")
                    while (i + 1 < words.Length && !words[i + 1].StartsWith("--", StringComparison.Ordinal)) options.Add(words[++i]);
                else if (words[i] == "--nproc-per-node" && i + 1 < words.Length && int.TryParse(words[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)) ranks = n;
                else if (words[i] == "--device" && i + 1 < words.Length) device = words[i + 1];
            }
            return (words[at + 1], options, ranks, device);
        }

        private static bool Bool(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

        private static double? Number(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : (double?)null;
    }
}
