using System;
using System.Collections.Generic;
using XTuner.Training.Distributed;
using XTuner.Training.Models;
using static TorchSharp.torch;

namespace XTuner.Training.Kernels
{
    /// <summary>
    /// Rotary embedding of the half-split layout (Llama, Mistral, Qwen2, Yi, InternLM2), forward and backward, one
    /// elementwise pass each on CUDA, rounding where the TorchSharp ops (<see cref="RotaryTables.Apply"/>) round, so the
    /// two agree to the bit: y = round(x cos) + round(r sin) with r the rotated x (-x[d + D/2] below D/2, x[d - D/2]
    /// above). Backward: dx[d] = round(dy[d] cos[d]) + (d &lt; D/2 ? round(dy[d + D/2] sin[d + D/2]) : -round(dy[d - D/2] sin[d - D/2])).
    /// x is [B, S, H, D]; cos and sin [B, S, 1, D], shared by the heads. Keeps nothing of x for backward.
    /// </summary>
    internal sealed class RotaryKernel : autograd.SingleTensorFunction<RotaryKernel>
    {
        public const string KernelName = "rotary";

        private const int Threads = 256;

        /// <summary>The CUDA source, compiled at first use.</summary>
        internal const string Source = KernelSource.Common + @"
// Element i of x [rows, heads, dim] (rows = B x S): its table entry and the element it rotates with.
template <typename T>
__device__ void rotate(const T* x, const T* cos, const T* sin, T* y, long long n, int heads, int dim, float sign)
{
    int half = dim / 2;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        int d = (int)(i % dim);
        long long row = i / dim / heads;
        long long t = row * dim + d;
        float direct = round_to(x, to_float(x[i]) * to_float(cos[t]));
        float turned;
        if (sign > 0.f)
            // forward: r[d] = -x[d + half] below half, x[d - half] above
            turned = d < half ? -round_to(x, to_float(x[i + half]) * to_float(sin[t]))
                              : round_to(x, to_float(x[i - half]) * to_float(sin[t]));
        else
            // backward: the rotation's transpose reads dy beside d, and the sin of that position
            turned = d < half ? round_to(x, to_float(x[i + half]) * to_float(sin[t + half]))
                              : -round_to(x, to_float(x[i - half]) * to_float(sin[t - half]));
        store(y, i, direct + turned);
    }
}

extern ""C"" __global__ void rotary_f32(const float* x, const float* cos, const float* sin, float* y, long long n, int heads, int dim, float sign)
{ rotate(x, cos, sin, y, n, heads, dim, sign); }
extern ""C"" __global__ void rotary_bf16(const bf16* x, const bf16* cos, const bf16* sin, bf16* y, long long n, int heads, int dim, float sign)
{ rotate(x, cos, sin, y, n, heads, dim, sign); }
";

        public override string Name => nameof(RotaryKernel);

        /// <summary>
        /// Whether the kernel takes these tensors: x [B, S, H, D] with D even, cos and sin [B, S, 1, D], one dtype
        /// (float32 or bf16), contiguous, on CUDA.
        /// </summary>
        public static bool Supports(Tensor x, Tensor cos, Tensor sin) =>
            x.device.type == TorchSharp.DeviceType.CUDA && KernelTensors.Supported(x.dtype) && x.dim() == 4 && x.shape[3] % 2 == 0 &&
            cos.dtype == x.dtype && sin.dtype == x.dtype && cos.is_contiguous() && sin.is_contiguous() &&
            cos.shape.AsSpan().SequenceEqual(new[] { x.shape[0], x.shape[1], 1L, x.shape[3] }) &&
            sin.shape.AsSpan().SequenceEqual(cos.shape);

        /// <summary><paramref name="x"/> rotated by the tables, with autograd when gradients are on.</summary>
        public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
        {
            if (!is_grad_enabled() || !x.requires_grad)
            {
                using var scope = NewDisposeScope();
                return Run(x.contiguous(), cos, sin, forward: true).MoveToOuterDisposeScope();
            }
            var output = apply(x, cos, sin);
            AutogradOutputCache.Release<RotaryKernel>();
            return output;
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            using var scope = NewDisposeScope();
            Tensor cos = (Tensor)vars[1], sin = (Tensor)vars[2];
            var output = Run(((Tensor)vars[0]).contiguous(), cos, sin, forward: true);
            ctx.save_for_backward(new List<Tensor> { cos, sin });
            return output.MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            Tensor cos = saved[0], sin = saved[1];
            var gradInput = Run(gradOutput.to(cos.dtype).contiguous(), cos, sin, forward: false);
            gradOutput.Dispose();
            return AutogradHandoff.Return(new Tensor?[] { gradInput, null, null });
        }

        // forward: y = x cos + rotate(x) sin; backward: the transpose, from dy.
        private static Tensor Run(Tensor x, Tensor cos, Tensor sin, bool forward)
        {
            int device = KernelTensors.Device(x, x.dtype, KernelName);
            KernelTensors.Device(cos, x.dtype, KernelName);
            KernelTensors.Device(sin, x.dtype, KernelName);
            var output = empty_like(x);
            long n = x.numel();
            if (n == 0) return output;
            var function = CudaModules.Function(Source, KernelName, "rotary_" + KernelTensors.Suffix(x.dtype), device);
            ReadOnlySpan<KernelArgument> arguments = stackalloc KernelArgument[]
            {
                TensorMemory.Pointer(x), TensorMemory.Pointer(cos), TensorMemory.Pointer(sin), TensorMemory.Pointer(output), n,
                (int)x.shape[2], (int)x.shape[3], forward ? 1f : -1f,
            };
            CudaModules.Launch(function, device, KernelName, KernelTensors.Blocks(n, Threads, device), Threads, 0, arguments);
            return output;
        }
    }
}
