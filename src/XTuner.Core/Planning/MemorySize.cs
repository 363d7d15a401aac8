using System;
using System.Globalization;

namespace XTuner.Core.Planning
{
    /// <summary>
    /// Memory sizes as the planner takes them: a number of bytes, or with a binary suffix, as PowerShell's own
    /// literals count (<c>141GiB</c>, <c>141GB</c> and <c>141G</c> are all 141 x 2^30 bytes; <c>2TiB</c>, <c>512MiB</c>).
    /// </summary>
    public static class MemorySize
    {
        private static readonly (string Suffix, int Shift)[] Suffixes =
        {
            ("kib", 10), ("mib", 20), ("gib", 30), ("tib", 40), ("kb", 10), ("mb", 20), ("gb", 30), ("tb", 40),
            ("k", 10), ("m", 20), ("g", 30), ("t", 40), ("b", 0),
        };

        /// <summary>Bytes of <paramref name="text"/>; <paramref name="what"/> names the option in the error.</summary>
        public static double Parse(string text, string what)
        {
            var t = text.Trim().ToLowerInvariant();
            int shift = 0;
            foreach (var (suffix, s) in Suffixes)
                if (t.EndsWith(suffix, StringComparison.Ordinal))
                {
                    t = t.Substring(0, t.Length - suffix.Length).Trim();
                    shift = s;
                    break;
                }
            if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value <= 0 || double.IsInfinity(value))
                throw new XTunerException(ErrorIds.InvalidConfigValue, $"{what} '{text}' is not a memory size: write it as 141GiB, 2TiB or 512MiB.");
            double bytes = value * Math.Pow(2, shift);
            if (bytes < 1L << 30)
                throw new XTunerException(ErrorIds.InvalidConfigValue,
                    $"{what} '{text}' is {bytes:N0} bytes, less than 1 GiB: give a unit, as in 141GiB.");
            return bytes;
        }
    }
}
