using System;
using XTuner.Training.Distributed;
using XTuner.Training.Kernels;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Kernels
{
    /// <summary>The SwiGLU kernel's CUDA source on the host (<see cref="HostKernels"/>), against TorchSharp's silu(gate) * up.</summary>
    public class SwiGluKernelHostTests
    {
        [Theory]
        [InlineData(ScalarType.Float32, 1e-5)]
        [InlineData(ScalarType.BFloat16, 1e-2)]
        public unsafe void ForwardAndBackwardAreTheTorchSharpOps(ScalarType dtype, double tolerance)
        {
            if (!HostKernels.Ready()) return;
            using var scope = NewDisposeScope();
            manual_seed(17);
            const long n = 3001;
            var gate = randn(new long[] { n }).mul_(2).to(dtype);
            var up = randn(new long[] { n }).to(dtype);
            var dy = randn(new long[] { n }).to(dtype);
            var suffix = dtype == ScalarType.BFloat16 ? "bf16" : "f32";
            var y = empty_like(gate);
            var forward = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, long, void>)HostKernels.Function(SwiGluKernel.Source, "swiglu_forward_" + suffix);
            forward(TensorMemory.Pointer(gate), TensorMemory.Pointer(up), TensorMemory.Pointer(y), n);
            Tensor dg = empty_like(gate), du = empty_like(up);
            var backward = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, long, void>)HostKernels.Function(SwiGluKernel.Source, "swiglu_backward_" + suffix);
            backward(TensorMemory.Pointer(dy), TensorMemory.Pointer(gate), TensorMemory.Pointer(up), TensorMemory.Pointer(dg), TensorMemory.Pointer(du), n);

            var g = gate.detach().requires_grad_();
            var u = up.detach().requires_grad_();
            Tensor expected;
            System.Collections.Generic.IList<Tensor> grads;
            using (enable_grad())
            {
                expected = nn.functional.silu(g).mul(u);
                grads = autograd.grad(new[] { expected }, new[] { g, u }, new[] { dy });
            }
            Assert.InRange(HostKernels.Relative(y, expected.detach()), 0, tolerance);
            Assert.InRange(HostKernels.Relative(dg, grads[0]), 0, tolerance);
            Assert.InRange(HostKernels.Relative(du, grads[1]), 0, tolerance);
        }
    }
}
