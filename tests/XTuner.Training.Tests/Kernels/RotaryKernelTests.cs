using System;
using TorchSharp;
using XTuner.Core.Models;
using XTuner.Training.Distributed;
using XTuner.Training.Kernels;
using XTuner.Training.Models;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Kernels
{
    /// <summary>The rotary kernel's CUDA source, run on the host (<see cref="HostKernels"/>), against the TorchSharp ops, to the bit.</summary>
    public class RotaryKernelTests
    {
        private static unsafe Tensor RunKernel(Tensor x, Tensor cos, Tensor sin, bool forward)
        {
            var y = empty_like(x);
            var function = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, long, int, int, float, void>)
                HostKernels.Function(RotaryKernel.Source, "rotary_" + (x.dtype == ScalarType.BFloat16 ? "bf16" : "f32"));
            function(TensorMemory.Pointer(x), TensorMemory.Pointer(cos), TensorMemory.Pointer(sin), TensorMemory.Pointer(y), x.numel(),
                (int)x.shape[2], (int)x.shape[3], forward ? 1f : -1f);
            return y;
        }

        [Theory]
        [InlineData(ScalarType.Float32)]
        [InlineData(ScalarType.BFloat16)]
        public void ForwardAndBackwardGiveTheTorchSharpOpsNumbersToTheBit(ScalarType dtype)
        {
            if (!HostKernels.Ready()) return;
            using var scope = NewDisposeScope();
            manual_seed(3);
            // Two sequences of 7 tokens (the second restarting its positions, as packed documents do), 3 heads of 16.
            var positions = cat(new[] { arange(7L), arange(4L), arange(3L) }).reshape(2, 7);
            var spec = new XTuner.Core.Configuration.ModelSpec { RopeTheta = 10000 };
            var tables = new RotaryEmbedding(spec, 16, RotaryLayout.HalfSplit).Tables(positions, null, dtype);
            var x = randn(new long[] { 2, 7, 3, 16 }).to(dtype);
            var dy = randn(new long[] { 2, 7, 3, 16 }).to(dtype);

            var input = x.detach().requires_grad_();
            Tensor expected, expectedGrad;
            using (enable_grad())
            {
                expected = tables.Ops(input);
                expectedGrad = autograd.grad(new[] { expected }, new[] { input }, new[] { dy })[0];
            }
            var actual = RunKernel(x, tables.Cos, tables.Sin, forward: true);
            var actualGrad = RunKernel(dy, tables.Cos, tables.Sin, forward: false);
            Assert.True(actual.eq(expected.detach()).all().item<bool>(), $"forward differs by {actual.to(ScalarType.Float64).sub(expected.to(ScalarType.Float64)).abs().max().item<double>()}");
            Assert.True(actualGrad.eq(expectedGrad).all().item<bool>(), $"backward differs by {actualGrad.to(ScalarType.Float64).sub(expectedGrad.to(ScalarType.Float64)).abs().max().item<double>()}");
        }
    }
}
