using XTuner.Training.Models.Attention;
using static TorchSharp.torch;

namespace XTuner.Training.Models.Llama
{
    /// <summary>Pre-norm block of Llama, Mistral and Qwen2: x + attn(norm(x)), then h + mlp(norm(h)).</summary>
    internal sealed class LlamaDecoderLayer : DecoderLayer
    {
        private readonly RmsNorm input_layernorm;
        private readonly SelfAttention self_attn;
        private readonly RmsNorm post_attention_layernorm;
        private readonly SwiGluMlp mlp;

        public LlamaDecoderLayer(DecoderShape shape, Device device, ScalarType dtype) : base(nameof(LlamaDecoderLayer))
        {
            input_layernorm = new RmsNorm(shape.HiddenSize, shape.NormEps, device, dtype);
            self_attn = new SelfAttention(shape.Attention, shape.QkvBias, shape.OutputBias, null, device, dtype);
            post_attention_layernorm = new RmsNorm(shape.HiddenSize, shape.NormEps, device, dtype);
            mlp = new SwiGluMlp(shape.HiddenSize, shape.IntermediateSize, device, dtype);
            RegisterComponents();
        }

        public override Tensor Forward(Tensor hidden, LayerContext context)
        {
            using var scope = NewDisposeScope();
            var attended = hidden.add(self_attn.Forward(input_layernorm.forward(hidden), context));
            return attended.add(mlp.Forward(post_attention_layernorm.forward(attended), context.Mlp, context.Recompute)).MoveToOuterDisposeScope();
        }
    }
}
