using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.Json;

namespace XTuner.Core.Runs
{
    /// <summary><c>work_dir/metrics.jsonl</c>: one <see cref="XTunerStep"/> per line, appended as training goes.</summary>
    public static class MetricsFile
    {
        private static readonly JsonSerializerOptions Options = new JsonSerializerOptions
        {
            DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never,
        };

        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false);

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
            File.AppendAllText(new WorkDirLayout(workDir).Metrics, Serialize(step) + "\n", new UTF8Encoding(false));
        }

        /// <summary>Every complete line (a line being written is skipped). Empty when there is no file yet.</summary>
        public static List<XTunerStep> Read(string workDir)
        {
            var steps = new List<XTunerStep>();
            var path = new WorkDirLayout(workDir).Metrics;
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

        /// <summary>
        /// The last step, read from the end of the file: pollers ask for it every few hundred milliseconds while the file
        /// grows with every step. A line not yet ended by its newline is being written and is skipped, and so is a line
        /// that does not parse. Null when there is no file or no step yet.
        /// </summary>
        public static XTunerStep? ReadLast(string workDir) => ReadLast(workDir, 64 * 1024);

        internal static XTunerStep? ReadLast(string workDir, int blockSize)
        {
            var path = new WorkDirLayout(workDir).Metrics;
            if (!File.Exists(path)) return null;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            foreach (var line in CompleteLinesFromTheEnd(stream, blockSize))
            {
                var step = line.Length == 0 ? null : Parse(line);
                if (step != null) return step;
            }
            return null;
        }

        // Reads blocks backwards; the start of a line that spans blocks is carried into the block before it.
        private static IEnumerable<string> CompleteLinesFromTheEnd(FileStream stream, int blockSize)
        {
            long position = stream.Length;
            var carry = Array.Empty<byte>();
            bool pastLastNewline = false;
            while (position > 0)
            {
                int count = (int)Math.Min(blockSize, position);
                position -= count;
                var buffer = new byte[count + carry.Length];
                stream.Position = position;
                for (int read = 0; read < count;)
                {
                    int n = stream.Read(buffer, read, count - read);
                    // Rewritten shorter meanwhile (a resumed run truncates it): no answer this time.
                    if (n == 0) yield break;
                    read += n;
                }
                Buffer.BlockCopy(carry, 0, buffer, count, carry.Length);
                int lineEnd = buffer.Length;
                for (int i = count - 1; i >= 0; i--)
                {
                    if (buffer[i] != (byte)'\n') continue;
                    if (pastLastNewline) yield return Decode(buffer, i + 1, lineEnd);
                    pastLastNewline = true;
                    lineEnd = i;
                }
                carry = new byte[pastLastNewline ? lineEnd : 0];
                Buffer.BlockCopy(buffer, 0, carry, 0, carry.Length);
            }
            if (pastLastNewline) yield return Decode(carry, 0, carry.Length);
        }

        private static string Decode(byte[] bytes, int start, int end) => Utf8.GetString(bytes, start, end - start).TrimEnd('\r');

        /// <summary>Drops lines after <paramref name="step"/> (a resumed run rewrites them).</summary>
        public static void TruncateAfter(string workDir, int step)
        {
            var path = new WorkDirLayout(workDir).Metrics;
            if (!File.Exists(path)) return;
            var kept = new StringBuilder();
            foreach (var s in Read(workDir))
                if (s.Step <= step) kept.Append(Serialize(s)).Append('\n');
            File.WriteAllText(path, kept.ToString(), new UTF8Encoding(false));
        }
    }
}
