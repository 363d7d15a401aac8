using TorchSharp.Modules;
using static TorchSharp.torch;

namespace XTuner.Training.Models.Cohere
{
    /// <summary>
    /// Cohere's LayerNorm: no bias, normalised over the last dimension in float32, scaled by a weight of shape
    /// [hidden] or, for the per-head q/k norms, [heads, head_dim].
    /// </summary>
    internal sealed class CohereLayerNorm : nn.Module<Tensor, Tensor>
    {
        private readonly Parameter weight;
        private readonly double _eps;

        public CohereLayerNorm(long[] shape, double eps, Device device, ScalarType dtype) : base(nameof(CohereLayerNorm))
        {
            weight = new Parameter(ones(shape, dtype, device));
            _eps = eps;
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var x = input.to(ScalarType.Float32);
            var normed = nn.functional.layer_norm(x, new[] { x.shape[^1] }, eps: _eps);
            return normed.mul_(weight.to(ScalarType.Float32)).to(input.dtype).MoveToOuterDisposeScope();
        }
    }
}
