using TorchSharp.Modules;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// y = x W^T + b with transformers' initialisation (weight ~ N(0, 0.02), bias 0; see <see cref="ModelInit"/>):
    /// TorchSharp's Linear would first fill a Kaiming init that is thrown away.
    /// </summary>
    internal sealed class LinearLayer : nn.Module<Tensor, Tensor>
    {
        private readonly Parameter weight;
        private readonly Parameter? bias;

        public LinearLayer(long inFeatures, long outFeatures, bool hasBias, Device device, ScalarType dtype)
            : base(nameof(LinearLayer))
        {
            weight = new Parameter(ModelInit.Normal(new[] { outFeatures, inFeatures }, dtype, device));
            bias = hasBias ? new Parameter(zeros(new[] { outFeatures }, dtype, device)) : null;
            RegisterComponents();
        }

        public Parameter Weight => weight;

        public override Tensor forward(Tensor input)
        {
            using var phase = Engine.StepPhases.Enter(Engine.StepPhases.Matmul);
            return nn.functional.linear(input, weight, bias);
        }
    }
}
