using TorchSharp.Modules;
using XTuner.Training.Kernels;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// Llama RMSNorm exactly as transformers: normalise in float32, cast back to the input dtype, then scale by the
    /// weight in the model's dtype. With the fused kernels on CUDA, <see cref="RmsNormKernel"/> computes the same.
    /// </summary>
    internal sealed class RmsNorm : nn.Module<Tensor, Tensor>
    {
        private readonly Parameter weight;
        private readonly double _eps;

        public RmsNorm(long size, double eps, Device device, ScalarType dtype) : base(nameof(RmsNorm))
        {
            weight = new Parameter(ones(new[] { size }, dtype, device));
            _eps = eps;
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var phase = Engine.StepPhases.Enter(Engine.StepPhases.Norm);
            if (FusedKernels.For(input.device) && RmsNormKernel.Supports(input, weight)) return RmsNormKernel.Apply(input, weight, _eps);
            return Ops(input, weight, _eps);
        }

        /// <summary>The norm in TorchSharp ops (the path without fused kernels, and what the kernel is checked against).</summary>
        internal static Tensor Ops(Tensor input, Tensor weight, double eps)
        {
            using var scope = NewDisposeScope();
            var x = input.to(ScalarType.Float32);
            var variance = x.square().mean(new long[] { -1 }, keepdim: true);
            var normed = x.mul(variance.add_(eps).rsqrt_()).to(input.dtype);
            return weight.mul(normed).MoveToOuterDisposeScope();
        }
    }
}
