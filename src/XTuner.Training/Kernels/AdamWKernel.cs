using System;
using TorchSharp;
using XTuner.Training.Distributed;
using static TorchSharp.torch;

namespace XTuner.Training.Kernels
{
    /// <summary>
    /// AdamW in one pass per element on CUDA: reads the gradient (float32, or a bf16 model's .grad as it is), the master
    /// and both moments, writes the master, the moments and (when asked) the master rounded to bf16 for the parameters,
    /// where the TorchSharp path
    /// (<see cref="Optim.AdamW.Step"/>) makes about eight passes and a separate cast. The arithmetic is that path's, in
    /// float32 with the same scalars: g *= clip; p *= 1 - lr*wd; m += (1-beta1)(g - m) (torch's lerp below weight 0.5);
    /// v = beta2 v + (1-beta2) g g; p -= lr/(1-beta1^t) * m / (sqrt(v)/sqrt(1-beta2^t) + eps).
    /// </summary>
    internal static class AdamWKernel
    {
        public const string Name = "adamw";

        private const int Threads = 256;

        /// <summary>Elements per thread per pass (ADAMW_ILP in the source).</summary>
        private const int Ilp = 4;

        /// <summary>The CUDA source, compiled at first use.</summary>
        internal const string Source = KernelSource.Common + @"
// Each thread takes Ilp elements a block's width apart per pass (coalesced), loading all of them before it computes, so
// that a memory-bound update keeps Ilp times more loads in flight than one element per pass would.
#define ADAMW_ILP 4
template <typename G>
__device__ __forceinline__ void adamw_step(float* p, const G* g, float* m, float* v, bf16* out, long long n,
    float grad_scale, int decay_on, float decay, float one_minus_beta1, float beta2, float one_minus_beta2,
    float bias2_sqrt, float eps, float step_size)
{
    const long long width = blockDim.x, stride = (long long)gridDim.x * width * ADAMW_ILP;
    for (long long base = (long long)blockIdx.x * width * ADAMW_ILP + threadIdx.x; base < n; base += stride)
    {
        float gi[ADAMW_ILP], pi[ADAMW_ILP], mi[ADAMW_ILP], vi[ADAMW_ILP];
#pragma unroll
        for (int j = 0; j < ADAMW_ILP; j++)
        {
            long long i = base + j * width;
            if (i < n)
            {
                gi[j] = to_float(g[i]);
                pi[j] = p[i];
                mi[j] = m[i];
                vi[j] = v[i];
            }
        }
#pragma unroll
        for (int j = 0; j < ADAMW_ILP; j++)
        {
            long long i = base + j * width;
            if (i >= n) continue;
            float gj = gi[j] * grad_scale;
            float pj = pi[j];
            if (decay_on) pj = pj * decay;
            float mj = mi[j];
            mj = mj + one_minus_beta1 * (gj - mj);
            float vj = vi[j] * beta2 + one_minus_beta2 * gj * gj;
            float denominator = sqrtf(vj) / bias2_sqrt + eps;
            pj = pj - step_size * (mj / denominator);
            m[i] = mj;
            v[i] = vj;
            p[i] = pj;
            if (out) out[i] = float_to_bf16(pj);
        }
    }
}

extern ""C"" __global__ void adamw(float* p, const float* g, float* m, float* v, bf16* out, long long n,
    float grad_scale, int decay_on, float decay, float one_minus_beta1, float beta2, float one_minus_beta2,
    float bias2_sqrt, float eps, float step_size)
{
    adamw_step(p, g, m, v, out, n, grad_scale, decay_on, decay, one_minus_beta1, beta2, one_minus_beta2, bias2_sqrt, eps, step_size);
}

// The gradient as a bf16 model's .grad holds it: widened exactly, so the update is the float32 one.
extern ""C"" __global__ void adamw_bf16_grad(float* p, const bf16* g, float* m, float* v, bf16* out, long long n,
    float grad_scale, int decay_on, float decay, float one_minus_beta1, float beta2, float one_minus_beta2,
    float bias2_sqrt, float eps, float step_size)
{
    adamw_step(p, g, m, v, out, n, grad_scale, decay_on, decay, one_minus_beta1, beta2, one_minus_beta2, bias2_sqrt, eps, step_size);
}
";

        /// <summary>
        /// One step of <paramref name="param"/>, <paramref name="expAvg"/>, <paramref name="expAvgSq"/> (float32,
        /// contiguous, same length as <paramref name="grad"/>, float32 or bf16) for the 1-based <paramref name="step"/>;
        /// <paramref name="lowPrecision"/>, a bf16 tensor of that length or null, receives the updated master rounded.
        /// </summary>
        public static void Step(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor? lowPrecision, long step,
            double lr, double beta1, double beta2, double eps, double weightDecay, double gradScale)
        {
            if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "AdamW steps count from 1.");
            long n = param.numel();
            foreach (var t in new[] { param, expAvg, expAvgSq })
                Require(t, ScalarType.Float32, n, param.device);
            Require(grad, grad.dtype == ScalarType.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32, n, param.device);
            if (lowPrecision is not null) Require(lowPrecision, ScalarType.BFloat16, n, param.device);
            if (n == 0) return;
            int device = param.device.index < 0 ? 0 : param.device.index;
            var function = CudaModules.Function(Source, Name, grad.dtype == ScalarType.BFloat16 ? "adamw_bf16_grad" : Name, device);
            long blocks = Math.Min((n + Threads * Ilp - 1) / (Threads * Ilp), CudaModules.MultiprocessorsOf(device) * 8L);
            // The scalars in float32, as torch's float kernels take them (CpuAdamW computes the same ones).
            ReadOnlySpan<KernelArgument> arguments = stackalloc KernelArgument[]
            {
                TensorMemory.Pointer(param), TensorMemory.Pointer(grad), TensorMemory.Pointer(expAvg), TensorMemory.Pointer(expAvgSq),
                lowPrecision is null ? IntPtr.Zero : TensorMemory.Pointer(lowPrecision), n,
                (float)gradScale, weightDecay != 0 ? 1 : 0, (float)(1 - lr * weightDecay), (float)(1 - beta1), (float)beta2, (float)(1 - beta2),
                (float)Math.Pow(1 - Math.Pow(beta2, step), 0.5), (float)eps, (float)(lr / (1 - Math.Pow(beta1, step))),
            };
            CudaModules.Launch(function, device, Name, (uint)blocks, Threads, 0, arguments);
        }

        private static void Require(Tensor t, ScalarType dtype, long n, Device device)
        {
            if (t.dtype != dtype || t.numel() != n || !t.is_contiguous() || t.device.type != DeviceType.CUDA || t.device.index != device.index)
                throw new ArgumentException($"The AdamW kernel takes contiguous {dtype} CUDA tensors of {n} elements on {device}; got {t.dtype} [{string.Join(", ", t.shape)}] on {t.device}.");
        }
    }
}
