using static TorchSharp.torch;

namespace XTuner.Training.Models.Attention
{
    /// <summary>
    /// Attention with separate q/k/v/o projections (Llama, Mistral, Qwen2, Cohere) and, where the family has them
    /// (Cohere's use_qk_norm), norms on q and k before RoPE.
    /// </summary>
    internal sealed class SelfAttention : AttentionBlock
    {
        private readonly LinearLayer q_proj;
        private readonly LinearLayer k_proj;
        private readonly LinearLayer v_proj;
        private readonly LinearLayer o_proj;
        private readonly nn.Module<Tensor, Tensor>? q_norm;
        private readonly nn.Module<Tensor, Tensor>? k_norm;

        /// <remarks>
        /// <c>headNorm</c>, when the family normalises q and k: builds the norm for a [B, S, heads, D] tensor of the
        /// given number of heads (query heads for q_norm, key/value heads for k_norm).
        /// </remarks>
        public SelfAttention(AttentionShape shape, bool qkvBias, bool outputBias, System.Func<int, nn.Module<Tensor, Tensor>>? headNorm, Device device, ScalarType dtype)
            : base(nameof(SelfAttention), shape.Heads, shape.KeyValueHeads, shape.HeadDim)
        {
            q_proj = new LinearLayer(shape.HiddenSize, (long)shape.Heads * shape.HeadDim, qkvBias, device, dtype);
            k_proj = new LinearLayer(shape.HiddenSize, (long)shape.KeyValueHeads * shape.HeadDim, qkvBias, device, dtype);
            v_proj = new LinearLayer(shape.HiddenSize, (long)shape.KeyValueHeads * shape.HeadDim, qkvBias, device, dtype);
            o_proj = new LinearLayer((long)shape.Heads * shape.HeadDim, shape.HiddenSize, outputBias, device, dtype);
            if (headNorm != null)
            {
                q_norm = headNorm(shape.Heads);
                k_norm = headNorm(shape.KeyValueHeads);
            }
            RegisterComponents();
        }

        protected override (Tensor Query, Tensor Key, Tensor Value) Project(Tensor hidden)
        {
            long batch = hidden.shape[0], length = hidden.shape[1];
            var query = q_proj.forward(hidden).view(batch, length, Heads, HeadDim);
            var key = k_proj.forward(hidden).view(batch, length, KeyValueHeads, HeadDim);
            var value = v_proj.forward(hidden).view(batch, length, KeyValueHeads, HeadDim);
            if (q_norm != null && k_norm != null)
            {
                query = q_norm.forward(query);
                key = k_norm.forward(key);
            }
            return (query, key, value);
        }

        protected override Tensor ProjectOut(Tensor attended) => o_proj.forward(attended);
    }
}
