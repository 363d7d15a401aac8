using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace XTuner.Core.Launch
{
    /// <summary>
    /// SLURM's compressed list syntaxes, expanded the way <c>scontrol show hostnames</c> does, so that a rank can find
    /// the master host without running scontrol (which compute nodes do not always have).
    /// </summary>
    public static class SlurmNodeList
    {
        /// <summary>
        /// Expands a host list such as <c>node[01-03,07],gpu-a</c> into <c>node01, node02, node03, node07, gpu-a</c>.
        /// Zero padding is kept (the width of a range's first bound), and several bracket groups in one name multiply
        /// (<c>r[1-2]n[1-2]</c> gives r1n1, r1n2, r2n1, r2n2, in SLURM's order).
        /// </summary>
        /// <exception cref="FormatException">The list is not valid SLURM host list syntax.</exception>
        public static IReadOnlyList<string> Expand(string nodeList)
        {
            if (nodeList == null) throw new ArgumentNullException(nameof(nodeList));
            var hosts = new List<string>();
            foreach (var item in SplitTopLevel(nodeList, ','))
            {
                if (item.Length == 0) throw new FormatException($"host list '{nodeList}' has an empty entry");
                hosts.AddRange(ExpandName(item, nodeList));
            }
            if (hosts.Count == 0) throw new FormatException("host list is empty");
            return hosts;
        }

        /// <summary>
        /// Expands SLURM_TASKS_PER_NODE (<c>4(x2),3</c>) into one task count per node: 4, 4, 3.
        /// </summary>
        /// <exception cref="FormatException">The value is not in that syntax.</exception>
        public static IReadOnlyList<int> ExpandTasksPerNode(string tasksPerNode)
        {
            if (tasksPerNode == null) throw new ArgumentNullException(nameof(tasksPerNode));
            var counts = new List<int>();
            foreach (var raw in tasksPerNode.Split(','))
            {
                var item = raw.Trim();
                int repeat = 1;
                int open = item.IndexOf('(');
                if (open >= 0)
                {
                    if (!item.EndsWith(")", StringComparison.Ordinal) || item.Length < open + 4 || item[open + 1] != 'x' ||
                        !TryParseCount(item.Substring(open + 2, item.Length - open - 3), out repeat))
                        throw new FormatException($"'{item}' in '{tasksPerNode}' is not COUNT or COUNT(xNODES)");
                    item = item.Substring(0, open);
                }
                if (!TryParseCount(item, out var count))
                    throw new FormatException($"'{item}' in '{tasksPerNode}' is not a task count");
                for (int i = 0; i < repeat; i++) counts.Add(count);
            }
            return counts;
        }

        private static bool TryParseCount(string text, out int value) =>
            int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value > 0;

        // A name with bracket groups expands to the cartesian product, the leftmost group varying slowest.
        private static IEnumerable<string> ExpandName(string name, string whole)
        {
            int open = name.IndexOf('[');
            if (open < 0)
            {
                if (name.IndexOf(']') >= 0) throw new FormatException($"unbalanced ']' in '{whole}'");
                yield return name;
                yield break;
            }
            int close = name.IndexOf(']', open);
            if (close < 0) throw new FormatException($"unbalanced '[' in '{whole}'");
            var prefix = name.Substring(0, open);
            if (prefix.IndexOf(']') >= 0) throw new FormatException($"unbalanced ']' in '{whole}'");
            var ranges = name.Substring(open + 1, close - open - 1);
            var rest = name.Substring(close + 1);
            var tails = new List<string>(ExpandName(rest, whole));
            foreach (var middle in ExpandRanges(ranges, whole))
                foreach (var tail in tails)
                    yield return prefix + middle + tail;
        }

        private static IEnumerable<string> ExpandRanges(string ranges, string whole)
        {
            if (ranges.Length == 0) throw new FormatException($"empty brackets in '{whole}'");
            foreach (var part in ranges.Split(','))
            {
                int dash = part.IndexOf('-');
                var lowText = dash < 0 ? part : part.Substring(0, dash);
                var highText = dash < 0 ? part : part.Substring(dash + 1);
                if (!IsDigits(lowText) || !IsDigits(highText))
                    throw new FormatException($"'{part}' in '{whole}' is not a number or a range LOW-HIGH");
                long low = long.Parse(lowText, CultureInfo.InvariantCulture);
                long high = long.Parse(highText, CultureInfo.InvariantCulture);
                if (high < low) throw new FormatException($"range '{part}' in '{whole}' runs backwards");
                if (high - low > 1_000_000) throw new FormatException($"range '{part}' in '{whole}' is implausibly large");
                // SLURM pads every number of a range to the width its first bound was written with.
                int width = lowText.Length;
                for (long n = low; n <= high; n++)
                    yield return n.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0');
            }
        }

        private static bool IsDigits(string s)
        {
            if (s.Length == 0) return false;
            foreach (var c in s)
                if (c < '0' || c > '9') return false;
            return true;
        }

        private static List<string> SplitTopLevel(string s, char separator)
        {
            var parts = new List<string>();
            var current = new StringBuilder();
            int depth = 0;
            foreach (var c in s)
            {
                if (c == '[') depth++;
                else if (c == ']') depth--;
                if (c == separator && depth == 0)
                {
                    parts.Add(current.ToString().Trim());
                    current.Clear();
                }
                else current.Append(c);
            }
            parts.Add(current.ToString().Trim());
            return parts;
        }
    }
}
