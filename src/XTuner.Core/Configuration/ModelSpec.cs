using XTuner.Core.Models;

namespace XTuner.Core.Configuration
{
    /// <summary>
    /// A decoder's architecture. With <c>random_init</c> it defines the model; with a checkpoint its structural
    /// fields must agree with the checkpoint's config.json, and rope/position fields override it.
    /// Every field is optional: null means "as the checkpoint says".
    /// </summary>
    public sealed class ModelSpec
    {
        [ConfigKey("architecture", "llama (also Llama 3, Yi), mistral, qwen2, internlm2 or cohere.")]
        public ModelArchitecture? Architecture { get; set; }

        [ConfigKey("hidden_size", "Width of the residual stream.")]
        public int? HiddenSize { get; set; }

        [ConfigKey("intermediate_size", "Width of the SwiGLU MLP.")]
        public int? IntermediateSize { get; set; }

        [ConfigKey("num_hidden_layers", "Decoder layers.")]
        public int? NumHiddenLayers { get; set; }

        [ConfigKey("num_attention_heads", "Query heads.")]
        public int? NumAttentionHeads { get; set; }

        [ConfigKey("num_key_value_heads", "Key/value heads (fewer than query heads: grouped-query attention).")]
        public int? NumKeyValueHeads { get; set; }

        [ConfigKey("head_dim", "Per-head width (default hidden_size / num_attention_heads).")]
        public int? HeadDim { get; set; }

        [ConfigKey("vocab_size", "Embedding rows.")]
        public int? VocabSize { get; set; }

        [ConfigKey("max_position_embeddings", "Positions the model was trained for.")]
        public int? MaxPositionEmbeddings { get; set; }

        [ConfigKey("rope_theta", "RoPE base frequency.")]
        public double? RopeTheta { get; set; }

        [ConfigKey("rope_scaling", "RoPE scaling that extends max_position_embeddings.")]
        public RopeScaling? RopeScaling { get; set; }

        [ConfigKey("tie_word_embeddings", "lm_head shares the embedding matrix.")]
        public bool? TieWordEmbeddings { get; set; }

        [ConfigKey("attention_bias", "q/k/v projections carry biases (Qwen2 does).")]
        public bool? AttentionBias { get; set; }

        [ConfigKey("norm_eps", "RMSNorm/LayerNorm epsilon (rms_norm_eps or layer_norm_eps in config.json).")]
        public double? NormEps { get; set; }

        [ConfigKey("use_qk_norm", "Cohere: per-head LayerNorm on q and k.")]
        public bool? UseQkNorm { get; set; }

        [ConfigKey("logit_scale", "Cohere: logits are multiplied by this.")]
        public double? LogitScale { get; set; }

        [ConfigKey("sliding_window", "Mistral, Qwen2: each token attends to at most this many tokens (itself and those before it).")]
        public int? SlidingWindow { get; set; }

        [ConfigKey("use_sliding_window", "Qwen2: whether sliding_window applies (to the layers from max_window_layers on).")]
        public bool? UseSlidingWindow { get; set; }

        [ConfigKey("max_window_layers", "Qwen2: the first this many layers attend in full; the later ones use sliding_window (default 28, as transformers; config.json's layer_types, where present, decides).")]
        public int? MaxWindowLayers { get; set; }

        /// <summary>The window of layer <paramref name="layer"/> (null: full causal attention), as the family defines it.</summary>
        public int? WindowOf(int layer) => Family.SlidingWindow(this, layer);

        /// <summary>Per-head width, from head_dim or hidden_size / heads.</summary>
        public int? EffectiveHeadDim =>
            HeadDim ?? (HiddenSize is int h && NumAttentionHeads is int n && n > 0 ? h / n : (int?)null);

        /// <summary>The longest sequence the positions (with any RoPE scaling) are meant for.</summary>
        public long? SupportedPositions =>
            MaxPositionEmbeddings is int m ? (RopeScaling?.ExtendedPositions(m) ?? m) : (long?)null;

        /// <summary>The family that gives this spec's defaults and names (Llama when no architecture is set).</summary>
        public ModelFamily Family => ModelFamily.For(Architecture);

        /// <summary>q/k/v projections carry biases: Qwen2 always does, the others when attention_bias is set.</summary>
        public bool HasQkvBias => Family.HasQkvBias(this);

        /// <summary>
        /// The attention output projection carries a bias: with attention_bias (InternLM2: bias) for Llama, Mistral,
        /// InternLM2 and Cohere; never for Qwen2, whose o_proj has none even though q/k/v have.
        /// </summary>
        public bool HasOutputProjectionBias => Family.HasOutputProjectionBias(this);

        /// <summary>lm_head shares the embedding matrix: tie_word_embeddings, else the family's default (Cohere ties).</summary>
        public bool TiesWordEmbeddings => TieWordEmbeddings ?? Family.TiesEmbeddingsByDefault;

        /// <summary>Parameter count of the decoder (embeddings included; lm_head counted unless tied).</summary>
        public long? ParameterCount
        {
            get
            {
                if (HiddenSize is not int h || IntermediateSize is not int i || NumHiddenLayers is not int l ||
                    NumAttentionHeads is not int hq || VocabSize is not int v || EffectiveHeadDim is not int d)
                    return null;
                long hkv = NumKeyValueHeads ?? hq;
                long attn = (long)h * hq * d * 2 + (long)h * hkv * d * 2;
                if (HasQkvBias) attn += (hq + 2 * hkv) * (long)d;
                if (HasOutputProjectionBias) attn += h;
                long mlp = 3L * h * i;
                long norms = Family.NormsPerLayer * (long)h;
                if (Family.UsesQkNorm(this)) norms += (hq + hkv) * (long)d;
                long embed = (long)v * h * (TiesWordEmbeddings ? 1 : 2);
                return l * (attn + mlp + norms) + embed + h;
            }
        }
    }
}
