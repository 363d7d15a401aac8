using System;
using System.Collections.Generic;
using System.Linq;

namespace XTuner.Core.Configuration
{
    /// <summary>Edit distance for "did you mean" suggestions.</summary>
    public static class StringDistance
    {
        /// <summary>Optimal string alignment distance (Levenshtein plus adjacent transpositions).</summary>
        public static int Between(string a, string b)
        {
            var d = new int[a.Length + 1, b.Length + 1];
            for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
            for (int j = 0; j <= b.Length; j++) d[0, j] = j;
            for (int i = 1; i <= a.Length; i++)
            {
                for (int j = 1; j <= b.Length; j++)
                {
                    int cost = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1;
                    d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                    if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                        d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
            return d[a.Length, b.Length];
        }

        /// <summary>The candidate closest to <paramref name="word"/>, if it is close enough to be a likely typo.</summary>
        public static string? Closest(string word, IEnumerable<string> candidates)
        {
            var best = candidates
                .Select(c => (c, d: Between(word, c)))
                .OrderBy(x => x.d)
                .ThenBy(x => x.c, StringComparer.Ordinal)
                .FirstOrDefault();
            if (best.c == null) return null;
            int allowed = Math.Max(2, word.Length / 3);
            return best.d <= allowed ? best.c : null;
        }
    }
}
