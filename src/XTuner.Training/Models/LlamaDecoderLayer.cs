using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>Pre-norm block of Llama, Mistral and Qwen2: x + attn(norm(x)), then h + mlp(norm(h)).</summary>
    internal sealed class LlamaDecoderLayer : DecoderLayer
    {
        private readonly RmsNorm input_layernorm;
        private readonly SelfAttention self_attn;
        private readonly RmsNorm post_attention_layernorm;
        private readonly SwiGluMlp mlp;

        public LlamaDecoderLayer(AttentionShape shape, long intermediateSize, bool qkvBias, bool outputBias, double eps, Device device, ScalarType dtype)
            : base(nameof(LlamaDecoderLayer))
        {
            input_layernorm = new RmsNorm(shape.HiddenSize, eps, device, dtype);
            self_attn = new SelfAttention(shape, qkvBias, outputBias, null, device, dtype);
            post_attention_layernorm = new RmsNorm(shape.HiddenSize, eps, device, dtype);
            mlp = new SwiGluMlp(shape.HiddenSize, intermediateSize, device, dtype);
            RegisterComponents();
        }

        public override Tensor Forward(Tensor hidden, RotaryTables rope, IAttentionKernel kernel)
        {
            using var scope = NewDisposeScope();
            var attended = hidden.add(self_attn.Forward(input_layernorm.forward(hidden), rope, kernel));
            return attended.add(mlp.forward(post_attention_layernorm.forward(attended))).MoveToOuterDisposeScope();
        }
    }
}
