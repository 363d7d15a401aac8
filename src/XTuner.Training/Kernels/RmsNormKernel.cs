using System;
using System.Collections.Generic;
using XTuner.Training.Distributed;
using XTuner.Training.Models;
using static TorchSharp.torch;

namespace XTuner.Training.Kernels
{
    /// <summary>
    /// RMSNorm forward and backward on CUDA, one block per row with float32 accumulation, computing what
    /// <see cref="RmsNorm"/>'s TorchSharp ops compute, rounding where they round: normed = (x * rsqrt(mean(x²) + eps))
    /// in the input's dtype, y = weight * normed. Backward: dn = dy * w, dx = r dn - x r³ mean(dn x), and each block
    /// adds dy * normed of its rows into its own float32 row of partial weight gradients, which are then summed.
    /// Forward keeps only x and the per-row r.
    /// </summary>
    internal sealed class RmsNormKernel : autograd.SingleTensorFunction<RmsNormKernel>
    {
        public const string KernelName = "rms_norm";

        private const int Threads = 256;

        /// <summary>The CUDA source, compiled at first use.</summary>
        internal const string Source = KernelSource.Common + @"
template <typename T>
__device__ void forward(const T* x, const T* w, T* y, float* rstd, long long rows, int h, float eps)
{
    __shared__ float shared[32];
    for (long long row = blockIdx.x; row < rows; row += gridDim.x)
    {
        const T* xr = x + row * h;
        T* yr = y + row * h;
        float sum = 0.f;
        for (int j = threadIdx.x; j < h; j += blockDim.x) { float v = to_float(xr[j]); sum += v * v; }
        sum = block_sum(sum, shared);
        float r = rsqrtf(sum / (float)h + eps);
        if (threadIdx.x == 0) rstd[row] = r;
        for (int j = threadIdx.x; j < h; j += blockDim.x)
            store(yr, j, to_float(w[j]) * round_to(x, to_float(xr[j]) * r));
    }
}

template <typename T>
__device__ void backward(const T* dy, const T* x, const T* w, const float* rstd, T* dx, float* dw_partial, long long rows, int h)
{
    __shared__ float shared[32];
    float* dwp = dw_partial + (long long)blockIdx.x * h;
    for (int j = threadIdx.x; j < h; j += blockDim.x) dwp[j] = 0.f;
    for (long long row = blockIdx.x; row < rows; row += gridDim.x)
    {
        const T* xr = x + row * h;
        const T* dyr = dy + row * h;
        T* dxr = dx + row * h;
        float r = rstd[row];
        float dot = 0.f;
        for (int j = threadIdx.x; j < h; j += blockDim.x)
            dot += round_to(x, to_float(dyr[j]) * to_float(w[j])) * to_float(xr[j]);
        dot = block_sum(dot, shared);
        float c = dot * r * r * r / (float)h;
        for (int j = threadIdx.x; j < h; j += blockDim.x)
        {
            float xj = to_float(xr[j]), dyj = to_float(dyr[j]);
            float dn = round_to(x, dyj * to_float(w[j]));
            dwp[j] += round_to(x, dyj * round_to(x, xj * r));
            store(dxr, j, r * dn - xj * c);
        }
    }
}

extern ""C"" __global__ void rms_norm_forward_f32(const float* x, const float* w, float* y, float* rstd, long long rows, int h, float eps)
{ forward(x, w, y, rstd, rows, h, eps); }
extern ""C"" __global__ void rms_norm_forward_bf16(const bf16* x, const bf16* w, bf16* y, float* rstd, long long rows, int h, float eps)
{ forward(x, w, y, rstd, rows, h, eps); }
extern ""C"" __global__ void rms_norm_backward_f32(const float* dy, const float* x, const float* w, const float* rstd, float* dx, float* dwp, long long rows, int h)
{ backward(dy, x, w, rstd, dx, dwp, rows, h); }
extern ""C"" __global__ void rms_norm_backward_bf16(const bf16* dy, const bf16* x, const bf16* w, const float* rstd, bf16* dx, float* dwp, long long rows, int h)
{ backward(dy, x, w, rstd, dx, dwp, rows, h); }
";

        public override string Name => nameof(RmsNormKernel);

        /// <summary>Whether the kernel takes this input and weight (same dtype, float32 or bf16, on CUDA).</summary>
        public static bool Supports(Tensor input, Tensor weight) =>
            input.device.type == TorchSharp.DeviceType.CUDA && input.dtype == weight.dtype && KernelTensors.Supported(input.dtype)
            && weight.dim() == 1 && input.shape[^1] == weight.shape[0] && weight.shape[0] <= int.MaxValue;

        /// <summary>RMSNorm of <paramref name="input"/> [..., H] with <paramref name="weight"/> [H], with autograd when gradients are on.</summary>
        public static Tensor Apply(Tensor input, Tensor weight, double eps)
        {
            if (!is_grad_enabled() || !(input.requires_grad || weight.requires_grad))
            {
                using var scope = NewDisposeScope();
                return Forward(input.contiguous(), weight.contiguous(), eps).Output.MoveToOuterDisposeScope();
            }
            var output = apply(input, weight, eps);
            AutogradOutputCache.Release<RmsNormKernel>();
            return output;
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            using var scope = NewDisposeScope();
            var input = ((Tensor)vars[0]).contiguous();
            var weight = ((Tensor)vars[1]).contiguous();
            var (output, rstd) = Forward(input, weight, (double)vars[2]);
            ctx.save_for_backward(new List<Tensor> { input.MoveToOuterDisposeScope(), weight.MoveToOuterDisposeScope(), rstd.MoveToOuterDisposeScope() });
            return output.MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            Tensor input = saved[0], weight = saved[1], rstd = saved[2];
            var dy = gradOutput.to(input.dtype).contiguous();
            int h = (int)weight.shape[0];
            long rows = input.numel() / h;
            int device = KernelTensors.Device(input, input.dtype, KernelName);
            KernelTensors.Device(dy, input.dtype, KernelName);
            var gradInput = empty_like(input);
            long blocks = Math.Max(1, Math.Min(rows, CudaModules.MultiprocessorsOf(device) * 2L));
            var partial = empty(new[] { blocks, h }, ScalarType.Float32, input.device);
            if (rows > 0)
            {
                var function = CudaModules.Function(Source, KernelName, "rms_norm_backward_" + KernelTensors.Suffix(input.dtype), device);
                ReadOnlySpan<KernelArgument> arguments = stackalloc KernelArgument[]
                {
                    TensorMemory.Pointer(dy), TensorMemory.Pointer(input), TensorMemory.Pointer(weight), TensorMemory.Pointer(rstd),
                    TensorMemory.Pointer(gradInput), TensorMemory.Pointer(partial), rows, h,
                };
                CudaModules.Launch(function, device, KernelName, (uint)blocks, Threads, 0, arguments);
            }
            var gradWeight = rows > 0 ? WeightGradient(partial, weight.dtype) : zeros_like(weight);
            gradOutput.Dispose();
            return AutogradHandoff.Return(new Tensor?[] { gradInput, gradWeight, null });
        }

        /// <summary>
        /// The weight gradient [H] from the blocks' float32 partial rows [blocks, H], in <paramref name="dtype"/>. The
        /// dimension is passed by name: a bare <c>sum(0)</c> binds to TorchSharp's <c>sum(ScalarType?)</c> (0 converts to
        /// any enum) and sums everything into a scalar.
        /// </summary>
        internal static Tensor WeightGradient(Tensor partial, ScalarType dtype) => partial.sum(dim: 0L).to(dtype);

        // y and the per-row r of contiguous input [..., H] and weight [H].
        private static (Tensor Output, Tensor Rstd) Forward(Tensor input, Tensor weight, double eps)
        {
            int h = (int)weight.shape[0];
            long rows = input.numel() / h;
            int device = KernelTensors.Device(input, input.dtype, KernelName);
            KernelTensors.Device(weight, input.dtype, KernelName);
            var output = empty_like(input);
            var rstd = empty(rows, ScalarType.Float32, input.device);
            if (rows == 0) return (output, rstd);
            var function = CudaModules.Function(Source, KernelName, "rms_norm_forward_" + KernelTensors.Suffix(input.dtype), device);
            long blocks = Math.Min(rows, CudaModules.MultiprocessorsOf(device) * 32L);
            ReadOnlySpan<KernelArgument> arguments = stackalloc KernelArgument[]
            {
                TensorMemory.Pointer(input), TensorMemory.Pointer(weight), TensorMemory.Pointer(output), TensorMemory.Pointer(rstd), rows, h, (float)eps,
            };
            CudaModules.Launch(function, device, KernelName, (uint)blocks, Threads, 0, arguments);
            return (output, rstd);
        }
    }
}
