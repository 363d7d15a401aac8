using System.Collections.Generic;

namespace XTuner.Core.Planning
{
    /// <summary>
    /// One recorded benchmark result that the planner is checked against: the config and overrides it ran (from the
    /// line's command), its length and ranks, and what was measured.
    /// </summary>
    public sealed class BenchmarkCase
    {
        public BenchmarkCase(string file, int line, string config, IReadOnlyList<string> options, int length, int ranks,
            double measuredPeakGib, double? measuredStepSeconds, double? hostMemoryGib = null, IReadOnlyList<string>? recordedOptions = null,
            IReadOnlyList<string>? resolvedOptions = null)
        {
            RecordedOptions = recordedOptions ?? new[] { "fused_kernels=false", "cast_weights_per_layer=false" };
            ResolvedOptions = resolvedOptions ?? System.Array.Empty<string>();
            HostMemoryGib = hostMemoryGib;
            File = file;
            Line = line;
            Config = config;
            Options = options;
            Length = length;
            Ranks = ranks;
            MeasuredPeakGib = measuredPeakGib;
            MeasuredStepSeconds = measuredStepSeconds;
        }

        /// <summary>The host memory the run had available (GiB, its line's host_memory_gib), which offload_activations auto fills; null where not recorded.</summary>
        public double? HostMemoryGib { get; }

        /// <summary>
        /// What its line's fields record of how it ran, as options applied before <see cref="Options"/>: fused_kernels and
        /// cast_weights_per_layer (each false for a line without the field, which ran before the option existed).
        /// </summary>
        public IReadOnlyList<string> RecordedOptions { get; }

        /// <summary>
        /// What the run resolved its autos to, as options applied after <see cref="Options"/>: the recompute split of
        /// activation_checkpointing auto (its line's recomputed_layers and attention_kept_layers), so that the case checks
        /// the memory and time of what ran, not what today's planner would choose in its place.
        /// </summary>
        public IReadOnlyList<string> ResolvedOptions { get; }

        /// <summary>The results file's name.</summary>
        public string File { get; }

        /// <summary>1-based line in <see cref="File"/>.</summary>
        public int Line { get; }

        /// <summary>The catalogue config the benchmark ran.</summary>
        public string Config { get; }

        /// <summary>Its --cfg-options, as given.</summary>
        public IReadOnlyList<string> Options { get; }

        public int Length { get; }

        public int Ranks { get; }

        public double MeasuredPeakGib { get; }

        /// <summary>The step time (CUDA runs only; a CPU step time is not predicted).</summary>
        public double? MeasuredStepSeconds { get; }

        public override string ToString() =>
            $"{File}:{Line} {Config} {Length / 1024}k" + (Options.Count > 0 ? " " + string.Join(" ", Options) : "");
    }
}
