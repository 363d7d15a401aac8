using System;
using TorchSharp;
using XTuner.Training.Distributed;
using static TorchSharp.torch;

namespace XTuner.Training.Kernels
{
    /// <summary>
    /// The sum of squares of a bf16 vector, accumulated in float32 without a float32 copy of it (the gradient norm of a
    /// bf16 model reads each gradient element once, 2 bytes, where casting first moves 10). Each block sums a fixed
    /// stride of elements and writes its partial sum; libtorch adds the partials. The grid depends only on the length
    /// and the device, so the result is the same from run to run.
    /// </summary>
    internal static class SumOfSquaresKernel
    {
        public const string Name = "sum_of_squares";

        private const int Threads = 256;

        internal const string Source = KernelSource.Common + @"
extern ""C"" __global__ void sum_of_squares(const bf16* x, long long n, float* partials)
{
    __shared__ float shared[32];
    float sum = 0.f;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        float xi = to_float(x[i]);
        sum += xi * xi;
    }
    sum = block_sum(sum, shared);
    if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}
";

        /// <summary>Whether the kernel takes <paramref name="x"/>: a contiguous bf16 CUDA tensor.</summary>
        public static bool Supports(Tensor x) =>
            x.dtype == ScalarType.BFloat16 && x.device.type == DeviceType.CUDA && x.is_contiguous();

        /// <summary>The sum of the squares of <paramref name="x"/>'s elements: a float32 tensor of one element on its device.</summary>
        public static Tensor Apply(Tensor x)
        {
            if (!Supports(x))
                throw new ArgumentException($"The sum-of-squares kernel takes a contiguous bf16 CUDA tensor; got {x.dtype} [{string.Join(", ", x.shape)}] on {x.device}.");
            long n = x.numel();
            if (n == 0) return zeros(1, ScalarType.Float32, x.device);
            int device = x.device.index < 0 ? 0 : x.device.index;
            var function = CudaModules.Function(Source, Name, Name, device);
            long blocks = Math.Min((n + Threads - 1) / Threads, CudaModules.MultiprocessorsOf(device) * 4L);
            using var partials = empty(blocks, ScalarType.Float32, x.device);
            ReadOnlySpan<KernelArgument> arguments = stackalloc KernelArgument[] { TensorMemory.Pointer(x), n, TensorMemory.Pointer(partials) };
            CudaModules.Launch(function, device, Name, (uint)blocks, Threads, 0, arguments);
            return partials.sum().reshape(1);
        }
    }
}
