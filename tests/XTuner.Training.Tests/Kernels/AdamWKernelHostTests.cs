using System;
using XTuner.Training.Distributed;
using XTuner.Training.Kernels;
using XTuner.Training.Optim;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Kernels
{
    /// <summary>The AdamW kernel's CUDA source on the host (<see cref="HostKernels"/>), against the TorchSharp AdamW.</summary>
    public class AdamWKernelHostTests
    {
        [Theory]
        [InlineData(ScalarType.Float32)]
        [InlineData(ScalarType.BFloat16)]
        public unsafe void ThreeStepsFromAFloat32OrABf16GradientAreTheTorchSharpSteps(ScalarType gradientType)
        {
            if (!HostKernels.Ready()) return;
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            manual_seed(5);
            const double lr = 1e-3, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, decay = 0.1, clip = 0.5;
            const int n = 4099;
            var start = randn(n);
            Tensor p1 = start.clone(), m1 = zeros(n), v1 = zeros(n);
            Tensor p2 = start.clone(), m2 = zeros(n), v2 = zeros(n), low = empty(n, ScalarType.BFloat16);
            var function = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, long, float, int, float, float, float, float, float, float, float, void>)
                HostKernels.Function(AdamWKernel.Source, gradientType == ScalarType.BFloat16 ? "adamw_bf16_grad" : AdamWKernel.Name);
            for (long t = 1; t <= 3; t++)
            {
                var g = randn(n).mul_(1e-2).to(gradientType);
                // DeviceOptimizerStates without the kernel: widen, clip, the TorchSharp AdamW.
                AdamW.Step(p1, g.to(ScalarType.Float32).mul(clip), m1, v1, t, lr, beta1, beta2, eps, decay);
                // The scalars as AdamWKernel.Step passes them.
                function(TensorMemory.Pointer(p2), TensorMemory.Pointer(g), TensorMemory.Pointer(m2), TensorMemory.Pointer(v2), TensorMemory.Pointer(low), n,
                    (float)clip, 1, (float)(1 - lr * decay), (float)(1 - beta1), (float)beta2, (float)(1 - beta2),
                    (float)Math.Pow(1 - Math.Pow(beta2, t), 0.5), (float)eps, (float)(lr / (1 - Math.Pow(beta1, t))));
            }
            Assert.InRange(HostKernels.Relative(p2, p1), 0, 1e-6);
            Assert.InRange(HostKernels.Relative(m2, m1), 0, 1e-6);
            Assert.InRange(HostKernels.Relative(v2, v1), 0, 1e-6);
            // The bf16 copy is the updated master rounded.
            Assert.True(low.eq(p2.to(ScalarType.BFloat16)).all().item<bool>());
        }
    }
}
