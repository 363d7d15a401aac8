using System.Globalization;
using System.Text.RegularExpressions;
using XTuner.Core.Configuration;
using XTuner.Core.Planning;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// The line a rank prints with what <c>activation_checkpointing: auto</c> chose, and its reading back (xtuner benchmark
    /// prints the choice under its table): one format for both.
    /// </summary>
    public static class AutoRecomputeLine
    {
        private static readonly Regex Pattern =
            new Regex(@"activation_checkpointing auto: (\d+) of (\d+) layers recompute, (\d+) of them without rerunning attention");

        /// <summary>The line for <paramref name="choice"/> of <paramref name="layers"/> layers, planned within <paramref name="freeBytes"/> (and the budget, if any).</summary>
        public static string Format(RecomputeChoice choice, int layers, double freeBytes, double? budgetGib) => string.Format(CultureInfo.InvariantCulture,
            "activation_checkpointing auto: {0} of {1} layers recompute, {2} of them without rerunning attention; the planner predicts this the fastest that fits in {3:F1} GiB free{4}",
            choice.Layers, layers, choice.AttentionKeptLayers, freeBytes / (1L << 30),
            budgetGib is double budget ? $" and gpu_memory_budget_gib {ConfigValues.FormatDouble(budget)}" : "");

        /// <summary>The first such line in <paramref name="text"/>: layers recomputed, of layers, and recomputed layers keeping attention.</summary>
        public static (int Recomputed, int Layers, int AttentionKept)? Find(string text)
        {
            var m = Pattern.Match(text);
            if (!m.Success) return null;
            int Group(int i) => int.Parse(m.Groups[i].Value, CultureInfo.InvariantCulture);
            return (Group(1), Group(2), Group(3));
        }
    }
}
