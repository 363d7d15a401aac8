using System;
using XTuner.Training.Distributed;
using static TorchSharp.torch;

namespace XTuner.Training.Kernels
{
    /// <summary>
    /// The chunked cross-entropy's work on one chunk of logits [rows, vocab] in the model's dtype (as lm_head's matmul
    /// makes them), without the float32 copies the TorchSharp path makes (<see cref="Models.ChunkedCrossEntropy"/>):
    /// forward, one block per row, the row's max and sum of exp in float32 give lse = max + log(sum) and the row's loss
    /// lse - logit[target] (0 for an ignored target); backward, one pass, (exp(logit - lse) - onehot) x the row's
    /// coefficient, rounded once to the model's dtype, as the TorchSharp path computes it. Logits are multiplied by
    /// the model's logit scale in float32 first, as there.
    /// </summary>
    internal static class CrossEntropyKernel
    {
        public const string KernelName = "cross_entropy";

        private const int Threads = 256;

        /// <summary>The CUDA source, compiled at first use.</summary>
        internal const string Source = KernelSource.Common + @"
// Max of v over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
__device__ float block_max(float v, float* shared)
{
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    float m = shared[0];
    for (int w = 1; w < warps; w++) m = fmaxf(m, shared[w]);
    return m;
}

template <typename T>
__device__ void forward(const T* logits, const long long* targets, float* lse, float* loss, long long rows, int vocab, float scale, long long ignore)
{
    __shared__ float shared[32];
    for (long long row = blockIdx.x; row < rows; row += gridDim.x)
    {
        const T* lr = logits + row * vocab;
        float m = __uint_as_float(0xff800000u);
        for (int j = threadIdx.x; j < vocab; j += blockDim.x) m = fmaxf(m, to_float(lr[j]) * scale);
        m = block_max(m, shared);
        float s = 0.f;
        for (int j = threadIdx.x; j < vocab; j += blockDim.x) s += expf(to_float(lr[j]) * scale - m);
        s = block_sum(s, shared);
        float l = m + logf(s);
        if (threadIdx.x == 0)
        {
            long long t = targets[row];
            lse[row] = l;
            loss[row] = t == ignore ? 0.f : l - to_float(lr[t]) * scale;
        }
    }
}

template <typename T>
__device__ void backward(const T* logits, const long long* targets, const float* lse, const float* coefficient, T* grad, long long rows, int vocab, float scale)
{
    long long n = rows * vocab;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        long long row = i / vocab;
        float p = expf(to_float(logits[i]) * scale - lse[row]);
        if (targets[row] == i - row * vocab) p = p + -1.f;
        store(grad, i, p * coefficient[row]);
    }
}

extern ""C"" __global__ void cross_entropy_forward_f32(const float* logits, const long long* targets, float* lse, float* loss, long long rows, int vocab, float scale, long long ignore)
{ forward(logits, targets, lse, loss, rows, vocab, scale, ignore); }
extern ""C"" __global__ void cross_entropy_forward_bf16(const bf16* logits, const long long* targets, float* lse, float* loss, long long rows, int vocab, float scale, long long ignore)
{ forward(logits, targets, lse, loss, rows, vocab, scale, ignore); }
extern ""C"" __global__ void cross_entropy_backward_f32(const float* logits, const long long* targets, const float* lse, const float* coefficient, float* grad, long long rows, int vocab, float scale)
{ backward(logits, targets, lse, coefficient, grad, rows, vocab, scale); }
extern ""C"" __global__ void cross_entropy_backward_bf16(const bf16* logits, const long long* targets, const float* lse, const float* coefficient, bf16* grad, long long rows, int vocab, float scale)
{ backward(logits, targets, lse, coefficient, grad, rows, vocab, scale); }
";

        /// <summary>
        /// Whether the kernels take the loss of <paramref name="hidden"/> [tokens, hidden] (whose dtype its logits take:
        /// float32 or bf16, on CUDA) against <paramref name="targets"/> (contiguous int64).
        /// </summary>
        public static bool Supports(Tensor hidden, Tensor targets) =>
            hidden.device.type == TorchSharp.DeviceType.CUDA && KernelTensors.Supported(hidden.dtype) && hidden.dim() == 2 &&
            targets.dtype == ScalarType.Int64 && targets.is_contiguous();

        /// <summary>
        /// Writes each row's log-sum-exp into <paramref name="lse"/> [rows] and returns the rows' losses [rows] (float32,
        /// 0 where the target is <paramref name="ignoreIndex"/>) for <paramref name="logits"/> [rows, vocab].
        /// </summary>
        public static Tensor Forward(Tensor logits, Tensor targets, double scale, long ignoreIndex, Tensor lse)
        {
            int device = KernelTensors.Device(logits, logits.dtype, KernelName);
            Require(targets, lse, logits);
            long rows = logits.shape[0];
            var loss = empty(rows, ScalarType.Float32, logits.device);
            if (rows == 0) return loss;
            var function = CudaModules.Function(Source, KernelName, "cross_entropy_forward_" + KernelTensors.Suffix(logits.dtype), device);
            ReadOnlySpan<KernelArgument> arguments = stackalloc KernelArgument[]
            {
                TensorMemory.Pointer(logits), TensorMemory.Pointer(targets), TensorMemory.Pointer(lse), TensorMemory.Pointer(loss),
                rows, (int)logits.shape[1], (float)scale, ignoreIndex,
            };
            uint blocks = (uint)Math.Min(rows, CudaModules.MultiprocessorsOf(device) * 8L);
            CudaModules.Launch(function, device, KernelName, blocks, Threads, 0, arguments);
            return loss;
        }

        /// <summary>
        /// The gradient of the rows' summed loss by the raw logits, (softmax - onehot) x <paramref name="coefficient"/>
        /// [rows] (float32: 0 on ignored rows), in the logits' dtype.
        /// </summary>
        public static Tensor Backward(Tensor logits, Tensor targets, Tensor lse, Tensor coefficient, double scale)
        {
            int device = KernelTensors.Device(logits, logits.dtype, KernelName);
            Require(targets, lse, logits);
            KernelTensors.Device(coefficient, ScalarType.Float32, KernelName);
            var grad = empty_like(logits);
            long n = logits.numel();
            if (n == 0) return grad;
            var function = CudaModules.Function(Source, KernelName, "cross_entropy_backward_" + KernelTensors.Suffix(logits.dtype), device);
            ReadOnlySpan<KernelArgument> arguments = stackalloc KernelArgument[]
            {
                TensorMemory.Pointer(logits), TensorMemory.Pointer(targets), TensorMemory.Pointer(lse), TensorMemory.Pointer(coefficient),
                TensorMemory.Pointer(grad), logits.shape[0], (int)logits.shape[1], (float)scale,
            };
            CudaModules.Launch(function, device, KernelName, KernelTensors.Blocks(n, Threads, device), Threads, 0, arguments);
            return grad;
        }

        private static void Require(Tensor targets, Tensor lse, Tensor logits)
        {
            KernelTensors.Device(lse, ScalarType.Float32, KernelName);
            if (targets.dtype != ScalarType.Int64 || !targets.is_contiguous() || targets.device.type != logits.device.type || targets.device.index != logits.device.index || targets.numel() != logits.shape[0] || lse.numel() != logits.shape[0])
                throw new ArgumentException($"The {KernelName} kernels take contiguous int64 targets on the logits' device and float32 lse of one entry per row of [{string.Join(", ", logits.shape)}] logits.");
        }
    }
}
