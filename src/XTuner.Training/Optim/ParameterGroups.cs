using System;

namespace XTuner.Training.Optim
{
    /// <summary>Which parameters take weight decay, by their Hugging Face names.</summary>
    public static class ParameterGroups
    {
        /// <summary>
        /// True for biases and for the weights of normalisation layers (input_layernorm, post_attention_layernorm,
        /// attention_norm, ffn_norm, q_norm, k_norm, model.norm), which transformers' Trainer and XTuner exclude from
        /// weight decay; embeddings and projections decay.
        /// </summary>
        public static bool NoDecay(string name)
        {
            if (name.EndsWith(".bias", StringComparison.Ordinal))
                return true;
            var end = name.EndsWith(".weight", StringComparison.Ordinal) ? name.Length - ".weight".Length : name.Length;
            var start = name.LastIndexOf('.', end - 1) + 1;
            return name.Substring(start, end - start).Contains("norm", StringComparison.OrdinalIgnoreCase);
        }
    }
}
