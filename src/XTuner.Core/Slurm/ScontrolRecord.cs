using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.RegularExpressions;

namespace XTuner.Core.Slurm
{
    /// <summary>
    /// One record of <c>scontrol show job -o</c>: KEY=VALUE fields on one line. Values may hold spaces (a job name, a
    /// command path), so a value runs up to the next <c> KEY=</c>. SLURM writes (null), N/A, None and Unknown for
    /// unset values; the typed getters read those as null.
    /// </summary>
    public sealed class ScontrolRecord
    {
        // Keys are words such as JobState, CPUs/Task, ReqB:S:C:T, NtasksPerN:B:S:C.
        private static readonly Regex Key = new Regex(@"(?:^|\s)([A-Za-z][A-Za-z0-9_/:]*)=", RegexOptions.CultureInvariant);
        private static readonly HashSet<string> Unset = new HashSet<string>(StringComparer.Ordinal) { "", "(null)", "N/A", "None", "Unknown" };
        private readonly Dictionary<string, string> _fields;

        private ScontrolRecord(Dictionary<string, string> fields) => _fields = fields;

        public IReadOnlyDictionary<string, string> Fields => _fields;

        /// <summary>Every record of the output, one per non-empty line.</summary>
        public static List<ScontrolRecord> ParseAll(string output)
        {
            var records = new List<ScontrolRecord>();
            foreach (var line in output.Split('\n'))
                if (line.Trim().Length > 0) records.Add(Parse(line.TrimEnd('\r')));
            return records;
        }

        public static ScontrolRecord Parse(string line)
        {
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            var matches = Key.Matches(line);
            for (int i = 0; i < matches.Count; i++)
            {
                var m = matches[i];
                int start = m.Index + m.Length;
                int end = i + 1 < matches.Count ? matches[i + 1].Index : line.Length;
                var name = m.Groups[1].Value;
                // The first occurrence wins: later keys of the same name belong to the same record only by accident.
                if (!fields.ContainsKey(name)) fields[name] = line.Substring(start, end - start).Trim();
            }
            return new ScontrolRecord(fields);
        }

        /// <summary>The value as written, or null when the key is absent or unset.</summary>
        public string? Get(string key) => _fields.TryGetValue(key, out var v) && !Unset.Contains(v) ? v : null;

        public int? GetInt(string key) =>
            int.TryParse(Get(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : (int?)null;

        /// <summary>SLURM's local time stamps (2024-05-01T10:00:00).</summary>
        public DateTime? GetTime(string key) =>
            DateTime.TryParseExact(Get(key), "yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var t)
                ? t
                : (DateTime?)null;

        /// <summary>ExitCode=CODE:SIGNAL as its two numbers.</summary>
        public (int? Code, int? Signal) GetExitCode(string key = "ExitCode")
        {
            var text = Get(key);
            if (text == null) return (null, null);
            var parts = text.Split(':');
            int? Number(int i) => i < parts.Length && int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : (int?)null;
            return (Number(0), Number(1));
        }
    }
}
