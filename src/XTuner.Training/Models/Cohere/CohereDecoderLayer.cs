using XTuner.Training.Models.Attention;
using static TorchSharp.torch;

namespace XTuner.Training.Models.Cohere
{
    /// <summary>Cohere's parallel block: one LayerNorm feeds attention and MLP, both added to the residual.</summary>
    internal sealed class CohereDecoderLayer : DecoderLayer
    {
        private readonly CohereLayerNorm input_layernorm;
        private readonly SelfAttention self_attn;
        private readonly SwiGluMlp mlp;

        public CohereDecoderLayer(DecoderShape shape, Device device, ScalarType dtype) : base(nameof(CohereDecoderLayer))
        {
            var a = shape.Attention;
            input_layernorm = new CohereLayerNorm(new[] { shape.HiddenSize }, shape.NormEps, device, dtype);
            // use_qk_norm: a LayerNorm over each token's [heads, head_dim] block of q and of k.
            self_attn = new SelfAttention(a, shape.QkvBias, shape.OutputBias,
                shape.QkNorm ? heads => new CohereLayerNorm(new long[] { heads, a.HeadDim }, shape.NormEps, device, dtype) : null,
                device, dtype);
            mlp = new SwiGluMlp(shape.HiddenSize, shape.IntermediateSize, device, dtype);
            RegisterComponents();
        }

        public override Tensor Forward(Tensor hidden, LayerContext context)
        {
            using var scope = NewDisposeScope();
            var normed = input_layernorm.forward(hidden);
            var output = hidden.add(self_attn.Forward(normed, context)).add_(mlp.Forward(normed, context.Mlp, context.Recompute));
            return output.MoveToOuterDisposeScope();
        }
    }
}
