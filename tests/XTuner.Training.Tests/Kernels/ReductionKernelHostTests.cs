using System;
using XTuner.Training.Distributed;
using XTuner.Training.Kernels;
using XTuner.Training.Models;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Kernels
{
    /// <summary>The kernels with block reductions, their CUDA sources run on the host (<see cref="HostKernels.Launcher"/>), against TorchSharp.</summary>
    public class ReductionKernelHostTests
    {
        [Fact]
        public unsafe void TheSumOfSquaresOfABf16VectorIsItsFloat32SumOverTheBlocksPartials()
        {
            if (!HostKernels.Ready()) return;
            using var scope = NewDisposeScope();
            manual_seed(11);
            const long n = 10007;
            const uint grid = 7;
            var x = randn(n).to(ScalarType.BFloat16);
            var partials = full(new long[] { grid }, float.NaN, ScalarType.Float32);
            var launch = (delegate* unmanaged<uint, uint, IntPtr, long, IntPtr, void>)
                HostKernels.Launcher(SumOfSquaresKernel.Source, SumOfSquaresKernel.Name, "const bf16* x, long long n, float* partials");
            launch(grid, 256, TensorMemory.Pointer(x), n, TensorMemory.Pointer(partials));
            double expected = x.to(ScalarType.Float64).square().sum().item<double>();
            Assert.Equal(expected, partials.to(ScalarType.Float64).sum().item<double>(), expected * 1e-6);
            // Each block summed its own stride: none is left out.
            Assert.True(partials.gt(0).all().item<bool>());
        }

        [Theory]
        [InlineData(ScalarType.Float32, 1e-5)]
        [InlineData(ScalarType.BFloat16, 1e-2)]
        public unsafe void RmsNormForwardAndBackwardAreTheTorchSharpOps(ScalarType dtype, double tolerance)
        {
            if (!HostKernels.Ready()) return;
            using var scope = NewDisposeScope();
            manual_seed(13);
            const long rows = 6;
            const int h = 96;
            const uint grid = 4, block = 64;
            const float eps = 1e-5f;
            var x = randn(new long[] { rows, h }).to(dtype);
            var w = randn(h).mul_(0.1).add_(1).to(dtype);
            var dy = randn(new long[] { rows, h }).to(dtype);
            var suffix = dtype == ScalarType.BFloat16 ? "bf16" : "f32";
            var t = dtype == ScalarType.BFloat16 ? "bf16" : "float";

            var y = empty_like(x);
            var rstd = empty(new long[] { rows }, ScalarType.Float32);
            var forward = (delegate* unmanaged<uint, uint, IntPtr, IntPtr, IntPtr, IntPtr, long, int, float, void>)HostKernels.Launcher(
                RmsNormKernel.Source, "rms_norm_forward_" + suffix, $"const {t}* x, const {t}* w, {t}* y, float* rstd, long long rows, int h, float eps");
            forward(grid, block, TensorMemory.Pointer(x), TensorMemory.Pointer(w), TensorMemory.Pointer(y), TensorMemory.Pointer(rstd), rows, h, eps);

            var dx = empty_like(x);
            var partial = empty(new long[] { grid, h }, ScalarType.Float32);
            var backward = (delegate* unmanaged<uint, uint, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, long, int, void>)HostKernels.Launcher(
                RmsNormKernel.Source, "rms_norm_backward_" + suffix, $"const {t}* dy, const {t}* x, const {t}* w, const float* rstd, {t}* dx, float* dwp, long long rows, int h");
            backward(grid, block, TensorMemory.Pointer(dy), TensorMemory.Pointer(x), TensorMemory.Pointer(w), TensorMemory.Pointer(rstd),
                TensorMemory.Pointer(dx), TensorMemory.Pointer(partial), rows, h);

            var xi = x.detach().requires_grad_();
            var wi = w.detach().requires_grad_();
            Tensor expected;
            System.Collections.Generic.IList<Tensor> grads;
            using (enable_grad())
            {
                expected = RmsNorm.Ops(xi, wi, eps);
                grads = autograd.grad(new[] { expected }, new[] { xi, wi }, new[] { dy });
            }
            Assert.InRange(HostKernels.Relative(y, expected.detach()), 0, tolerance);
            Assert.InRange(HostKernels.Relative(dx, grads[0]), 0, tolerance);
            // The blocks' partial rows, summed: the weight's gradient.
            Assert.InRange(HostKernels.Relative(partial.sum(new long[] { 0 }), grads[1]), 0, tolerance);
        }
    }
}
