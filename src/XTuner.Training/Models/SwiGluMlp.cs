using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>down_proj(silu(gate_proj(x)) * up_proj(x)), the Llama/Qwen2/Cohere MLP.</summary>
    internal sealed class SwiGluMlp : nn.Module
    {
        private readonly LinearLayer gate_proj;
        private readonly LinearLayer up_proj;
        private readonly LinearLayer down_proj;

        public SwiGluMlp(long hiddenSize, long intermediateSize, Device device, ScalarType dtype) : base(nameof(SwiGluMlp))
        {
            gate_proj = new LinearLayer(hiddenSize, intermediateSize, false, device, dtype);
            up_proj = new LinearLayer(hiddenSize, intermediateSize, false, device, dtype);
            down_proj = new LinearLayer(intermediateSize, hiddenSize, false, device, dtype);
            RegisterComponents();
        }

        /// <summary>The MLP of <paramref name="input"/>; with <paramref name="outputUnread"/> (a recompute) its values are undefined, its gradients exact.</summary>
        public Tensor Forward(Tensor input, MlpTiling tiling, bool outputUnread = false) => SwiGlu.Apply(input, gate_proj, up_proj, down_proj, tiling, outputUnread);
    }
}
