using XTuner.Training.Models.Attention;
using static TorchSharp.torch;

namespace XTuner.Training.Models.InternLM2
{
    /// <summary>The Llama block under InternLM2's names (attention_norm, attention, ffn_norm, feed_forward).</summary>
    internal sealed class InternLM2DecoderLayer : DecoderLayer
    {
        private readonly RmsNorm attention_norm;
        private readonly InternLM2Attention attention;
        private readonly RmsNorm ffn_norm;
        private readonly InternLM2FeedForward feed_forward;

        public InternLM2DecoderLayer(DecoderShape shape, Device device, ScalarType dtype) : base(nameof(InternLM2DecoderLayer))
        {
            attention_norm = new RmsNorm(shape.HiddenSize, shape.NormEps, device, dtype);
            attention = new InternLM2Attention(shape.Attention, shape.QkvBias, device, dtype);
            ffn_norm = new RmsNorm(shape.HiddenSize, shape.NormEps, device, dtype);
            feed_forward = new InternLM2FeedForward(shape.HiddenSize, shape.IntermediateSize, device, dtype);
            RegisterComponents();
        }

        public override Tensor Forward(Tensor hidden, LayerContext context)
        {
            using var scope = NewDisposeScope();
            var attended = hidden.add(attention.Forward(attention_norm.forward(hidden), context));
            return attended.add(feed_forward.Forward(ffn_norm.forward(attended), context.Mlp, context.Recompute)).MoveToOuterDisposeScope();
        }
    }
}
