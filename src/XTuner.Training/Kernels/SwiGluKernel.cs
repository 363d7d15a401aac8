using System;
using System.Collections.Generic;
using XTuner.Training.Distributed;
using XTuner.Training.Models;
using static TorchSharp.torch;

namespace XTuner.Training.Kernels
{
    /// <summary>
    /// silu(gate) * up, forward and backward, each one elementwise pass on CUDA, rounding where the TorchSharp ops
    /// (<c>silu(gate).mul(up)</c>) round: s = silu(g) = g / (1 + exp(-g)) in the dtype, y = s * u. Backward:
    /// du = dy * s, and dg = (dy * u) * sig (1 + g (1 - sig)) with sig = 1 / (1 + exp(-g)), torch's silu_backward.
    /// Forward keeps gate and up only (the ops keep silu(gate) as well).
    /// </summary>
    internal sealed class SwiGluKernel : autograd.SingleTensorFunction<SwiGluKernel>
    {
        public const string KernelName = "swiglu";

        private const int Threads = 256;

        /// <summary>The CUDA source, compiled at first use.</summary>
        internal const string Source = KernelSource.Common + @"
template <typename T>
__device__ void forward(const T* g, const T* u, T* y, long long n)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        float gi = to_float(g[i]);
        float s = round_to(g, gi / (1.f + expf(-gi)));
        store(y, i, s * to_float(u[i]));
    }
}

template <typename T>
__device__ void backward(const T* dy, const T* g, const T* u, T* dg, T* du, long long n)
{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        float gi = to_float(g[i]), dyi = to_float(dy[i]);
        float sig = 1.f / (1.f + expf(-gi));
        float s = round_to(g, gi / (1.f + expf(-gi)));
        float ds = round_to(g, dyi * to_float(u[i]));
        store(du, i, dyi * s);
        store(dg, i, ds * sig * (1.f + gi * (1.f - sig)));
    }
}

extern ""C"" __global__ void swiglu_forward_f32(const float* g, const float* u, float* y, long long n) { forward(g, u, y, n); }
extern ""C"" __global__ void swiglu_forward_bf16(const bf16* g, const bf16* u, bf16* y, long long n) { forward(g, u, y, n); }
extern ""C"" __global__ void swiglu_backward_f32(const float* dy, const float* g, const float* u, float* dg, float* du, long long n)
{ backward(dy, g, u, dg, du, n); }
extern ""C"" __global__ void swiglu_backward_bf16(const bf16* dy, const bf16* g, const bf16* u, bf16* dg, bf16* du, long long n)
{ backward(dy, g, u, dg, du, n); }
";

        public override string Name => nameof(SwiGluKernel);

        /// <summary>Whether the kernel takes these tensors (same shape and dtype, float32 or bf16, on CUDA).</summary>
        public static bool Supports(Tensor gate, Tensor up) =>
            gate.device.type == TorchSharp.DeviceType.CUDA && gate.dtype == up.dtype && KernelTensors.Supported(gate.dtype)
            && gate.shape.AsSpan().SequenceEqual(up.shape);

        /// <summary>silu(<paramref name="gate"/>) * <paramref name="up"/>, with autograd when gradients are on.</summary>
        public static Tensor Apply(Tensor gate, Tensor up)
        {
            if (!is_grad_enabled() || !(gate.requires_grad || up.requires_grad))
            {
                using var scope = NewDisposeScope();
                return Forward(gate.contiguous(), up.contiguous()).MoveToOuterDisposeScope();
            }
            var output = apply(gate, up);
            AutogradOutputCache.Release<SwiGluKernel>();
            return output;
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            using var scope = NewDisposeScope();
            var gate = ((Tensor)vars[0]).contiguous();
            var up = ((Tensor)vars[1]).contiguous();
            var output = Forward(gate, up);
            ctx.save_for_backward(new List<Tensor> { gate.MoveToOuterDisposeScope(), up.MoveToOuterDisposeScope() });
            return output.MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            Tensor gate = saved[0], up = saved[1];
            var dy = gradOutput.to(gate.dtype).contiguous();
            int device = KernelTensors.Device(gate, gate.dtype, KernelName);
            KernelTensors.Device(dy, gate.dtype, KernelName);
            var gradGate = empty_like(gate);
            var gradUp = empty_like(up);
            long n = gate.numel();
            if (n > 0)
            {
                var function = CudaModules.Function(Source, KernelName, "swiglu_backward_" + KernelTensors.Suffix(gate.dtype), device);
                ReadOnlySpan<KernelArgument> arguments = stackalloc KernelArgument[]
                {
                    TensorMemory.Pointer(dy), TensorMemory.Pointer(gate), TensorMemory.Pointer(up), TensorMemory.Pointer(gradGate), TensorMemory.Pointer(gradUp), n,
                };
                CudaModules.Launch(function, device, KernelName, KernelTensors.Blocks(n, Threads, device), Threads, 0, arguments);
            }
            gradOutput.Dispose();
            return AutogradHandoff.Return(new Tensor?[] { gradGate, gradUp });
        }

        private static Tensor Forward(Tensor gate, Tensor up)
        {
            int device = KernelTensors.Device(gate, gate.dtype, KernelName);
            KernelTensors.Device(up, gate.dtype, KernelName);
            var output = empty_like(gate);
            long n = gate.numel();
            if (n == 0) return output;
            var function = CudaModules.Function(Source, KernelName, "swiglu_forward_" + KernelTensors.Suffix(gate.dtype), device);
            ReadOnlySpan<KernelArgument> arguments = stackalloc KernelArgument[]
            {
                TensorMemory.Pointer(gate), TensorMemory.Pointer(up), TensorMemory.Pointer(output), n,
            };
            CudaModules.Launch(function, device, KernelName, KernelTensors.Blocks(n, Threads, device), Threads, 0, arguments);
            return output;
        }
    }
}
