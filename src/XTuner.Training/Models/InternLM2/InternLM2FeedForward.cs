using static TorchSharp.torch;

namespace XTuner.Training.Models.InternLM2
{
    /// <summary>InternLM2's MLP under its own names: w2(silu(w1(x)) * w3(x)).</summary>
    internal sealed class InternLM2FeedForward : nn.Module
    {
        private readonly LinearLayer w1;
        private readonly LinearLayer w3;
        private readonly LinearLayer w2;

        public InternLM2FeedForward(long hiddenSize, long intermediateSize, Device device, ScalarType dtype)
            : base(nameof(InternLM2FeedForward))
        {
            w1 = new LinearLayer(hiddenSize, intermediateSize, false, device, dtype);
            w3 = new LinearLayer(hiddenSize, intermediateSize, false, device, dtype);
            w2 = new LinearLayer(intermediateSize, hiddenSize, false, device, dtype);
            RegisterComponents();
        }

        /// <summary>The MLP of <paramref name="input"/>; with <paramref name="outputUnread"/> (a recompute) its values are undefined, its gradients exact.</summary>
        public Tensor Forward(Tensor input, MlpTiling tiling, bool outputUnread = false) => SwiGlu.Apply(input, w1, w3, w2, tiling, outputUnread);
    }
}
