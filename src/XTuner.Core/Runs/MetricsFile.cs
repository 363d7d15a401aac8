using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.Json;

namespace XTuner.Core.Runs
{
    /// <summary><c>work_dir/metrics.jsonl</c>: one <see cref="XTunerStep"/> per line, appended as training goes.</summary>
    public static class MetricsFile
    {
        public const string FileName = "metrics.jsonl";

        private static readonly JsonSerializerOptions Options = new JsonSerializerOptions
        {
            DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never,
        };

        public static string Serialize(XTunerStep step) => JsonSerializer.Serialize(step, Options);

        public static XTunerStep? Parse(string line)
        {
            try
            {
                return JsonSerializer.Deserialize<XTunerStep>(line, Options);
            }
            catch (JsonException)
            {
                return null;
            }
        }

        public static void Append(string workDir, XTunerStep step)
        {
            File.AppendAllText(Path.Combine(workDir, FileName), Serialize(step) + "\n", new UTF8Encoding(false));
        }

        /// <summary>Every complete line (a line being written is skipped). Empty when there is no file yet.</summary>
        public static List<XTunerStep> Read(string workDir)
        {
            var steps = new List<XTunerStep>();
            var path = Path.Combine(workDir, FileName);
            if (!File.Exists(path)) return steps;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            string? line;
            while ((line = reader.ReadLine()) != null)
            {
                if (line.Length == 0) continue;
                var step = Parse(line);
                if (step != null) steps.Add(step);
            }
            return steps;
        }

        /// <summary>Drops lines after <paramref name="step"/> (a resumed run rewrites them).</summary>
        public static void TruncateAfter(string workDir, int step)
        {
            var path = Path.Combine(workDir, FileName);
            if (!File.Exists(path)) return;
            var kept = new StringBuilder();
            foreach (var s in Read(workDir))
                if (s.Step <= step) kept.Append(Serialize(s)).Append('\n');
            File.WriteAllText(path, kept.ToString(), new UTF8Encoding(false));
        }
    }
}
