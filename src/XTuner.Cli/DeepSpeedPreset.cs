using System;
using System.Collections.Generic;

namespace XTuner.Cli
{
    /// <summary>
    /// XTuner's <c>--deepspeed</c> names (its bundled DeepSpeed JSON files) as this trainer's config keys: the ZeRO stage,
    /// and for the <c>_offload</c> variants the optimizer shard in host memory. DeepSpeed's zero3_offload also offloads
    /// the parameters; this trainer keeps them on the GPU (see the README).
    /// </summary>
    public static class DeepSpeedPreset
    {
        private static readonly IReadOnlyDictionary<string, string[]> Presets = new Dictionary<string, string[]>(StringComparer.Ordinal)
        {
            ["deepspeed_zero1"] = new[] { "zero_stage=1" },
            ["deepspeed_zero2"] = new[] { "zero_stage=2" },
            ["deepspeed_zero3"] = new[] { "zero_stage=3" },
            ["deepspeed_zero2_offload"] = new[] { "zero_stage=2", "offload_optimizer=true" },
            ["deepspeed_zero3_offload"] = new[] { "zero_stage=3", "offload_optimizer=true" },
        };

        public static IEnumerable<string> Names => Presets.Keys;

        /// <summary>The config assignments of a preset (<c>zero_stage=2</c>, ...); XTuner's short names (zero2) work too.</summary>
        /// <exception cref="CliUsageException">An unknown name; the message lists the known ones.</exception>
        public static IReadOnlyList<string> Assignments(string name)
        {
            var key = name.Trim();
            if (!key.StartsWith("deepspeed_", StringComparison.Ordinal)) key = "deepspeed_" + key;
            if (Presets.TryGetValue(key, out var assignments)) return assignments;
            throw new CliUsageException($"--deepspeed takes {string.Join(", ", Presets.Keys)}, not '{name}' " +
                                        "(a DeepSpeed JSON file is not read: set zero_stage with --cfg-options instead)");
        }
    }
}
