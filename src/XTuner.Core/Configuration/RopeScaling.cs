namespace XTuner.Core.Configuration
{
    /// <summary>RoPE scaling, as <c>rope_scaling</c> (transformers 4) or <c>rope_parameters</c> (transformers 5) give it.</summary>
    public sealed class RopeScaling
    {
        [ConfigKey("rope_type", "default, linear, dynamic (NTK), llama3 or yarn.")]
        public RopeType RopeType { get; set; } = RopeType.Default;

        [ConfigKey("factor", "How many times the original context the scaling targets.")]
        public double? Factor { get; set; }

        [ConfigKey("original_max_position_embeddings", "Context the checkpoint was trained on (llama3, yarn).")]
        public int? OriginalMaxPositionEmbeddings { get; set; }

        [ConfigKey("low_freq_factor", "llama3 scaling: low-frequency factor.")]
        public double? LowFreqFactor { get; set; }

        [ConfigKey("high_freq_factor", "llama3 scaling: high-frequency factor.")]
        public double? HighFreqFactor { get; set; }

        [ConfigKey("beta_fast", "yarn: fast boundary (default 32).")]
        public double? BetaFast { get; set; }

        [ConfigKey("beta_slow", "yarn: slow boundary (default 1).")]
        public double? BetaSlow { get; set; }

        [ConfigKey("attention_factor", "yarn: attention temperature (default 0.1 ln(factor) + 1).")]
        public double? AttentionFactor { get; set; }

        /// <summary>The longest sequence this scaling is meant for, given the model's own positions.</summary>
        public long ExtendedPositions(int maxPositionEmbeddings)
        {
            if (RopeType == RopeType.Default || Factor is null)
                return maxPositionEmbeddings;
            // llama3/yarn checkpoints already state the extended length as max_position_embeddings.
            var original = OriginalMaxPositionEmbeddings ?? maxPositionEmbeddings;
            return System.Math.Max(maxPositionEmbeddings, (long)System.Math.Floor(original * Factor.Value));
        }
    }
}
