using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>Cohere's parallel block: one LayerNorm feeds attention and MLP, both added to the residual.</summary>
    internal sealed class CohereDecoderLayer : DecoderLayer
    {
        private readonly CohereLayerNorm input_layernorm;
        private readonly SelfAttention self_attn;
        private readonly SwiGluMlp mlp;

        public CohereDecoderLayer(AttentionShape shape, long intermediateSize, bool qkvBias, bool outputBias, bool qkNorm, double eps, Device device, ScalarType dtype)
            : base(nameof(CohereDecoderLayer))
        {
            input_layernorm = new CohereLayerNorm(new[] { shape.HiddenSize }, eps, device, dtype);
            self_attn = new SelfAttention(shape, qkvBias, outputBias, qkNorm ? eps : null, device, dtype);
            mlp = new SwiGluMlp(shape.HiddenSize, intermediateSize, device, dtype);
            RegisterComponents();
        }

        public override Tensor Forward(Tensor hidden, RotaryTables rope, IAttentionKernel kernel)
        {
            using var scope = NewDisposeScope();
            var normed = input_layernorm.forward(hidden);
            var output = hidden.add(self_attn.Forward(normed, rope, kernel)).add_(mlp.forward(normed));
            return output.MoveToOuterDisposeScope();
        }
    }
}
