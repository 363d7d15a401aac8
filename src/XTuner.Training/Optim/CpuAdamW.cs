using System;
using System.Numerics;
using System.Threading.Tasks;

namespace XTuner.Training.Optim
{
    /// <summary>
    /// AdamW over float32 host arrays in one fused pass per element (read g, m, v, p; write m, v, p) with .NET SIMD,
    /// split across threads: the update <c>offload_optimizer</c> runs on the CPU. The arithmetic is torch.optim.AdamW's
    /// single-tensor path in float32, operation for operation (see <see cref="AdamW.Step"/>).
    /// </summary>
    internal static unsafe class CpuAdamW
    {
        /// <summary>Elements one thread updates at a time: large enough to amortise scheduling, small enough to balance.</summary>
        private const int Block = 1 << 16;

        /// <summary>One step of <paramref name="count"/> elements; <paramref name="gradScale"/> multiplies g first (the clip).</summary>
        public static void Step(float* param, float* grad, float* expAvg, float* expAvgSq, long count, long step,
            double lr, double beta1, double beta2, double eps, double weightDecay, double gradScale, int threads)
        {
            if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "AdamW steps count from 1.");
            var k = new Coefficients(step, lr, beta1, beta2, eps, weightDecay, gradScale);
            long blocks = (count + Block - 1) / Block;
            var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) };
            Parallel.For(0L, blocks, options, b =>
            {
                long start = b * Block;
                int n = (int)Math.Min(Block, count - start);
                Update(param + start, grad + start, expAvg + start, expAvgSq + start, n, k);
            });
        }

        private static void Update(float* p, float* g, float* m, float* v, int n, in Coefficients k)
        {
            int i = 0;
            int width = Vector<float>.Count;
            if (Vector.IsHardwareAccelerated)
            {
                var scale = new Vector<float>(k.GradScale);
                var decay = new Vector<float>(k.Decay);
                var oneMinusBeta1 = new Vector<float>(k.OneMinusBeta1);
                var beta2 = new Vector<float>(k.Beta2);
                var oneMinusBeta2 = new Vector<float>(k.OneMinusBeta2);
                var bias2Sqrt = new Vector<float>(k.Bias2Sqrt);
                var eps = new Vector<float>(k.Eps);
                var stepSize = new Vector<float>(k.StepSize);
                for (; i <= n - width; i += width)
                {
                    var gi = *(Vector<float>*)(g + i) * scale;
                    var pi = *(Vector<float>*)(p + i);
                    if (k.DecayOn) pi *= decay;
                    var mi = *(Vector<float>*)(m + i);
                    mi += oneMinusBeta1 * (gi - mi);
                    var vi = *(Vector<float>*)(v + i) * beta2 + oneMinusBeta2 * gi * gi;
                    var denominator = Vector.SquareRoot(vi) / bias2Sqrt + eps;
                    pi -= stepSize * (mi / denominator);
                    *(Vector<float>*)(m + i) = mi;
                    *(Vector<float>*)(v + i) = vi;
                    *(Vector<float>*)(p + i) = pi;
                }
            }
            for (; i < n; i++)
            {
                float gi = g[i] * k.GradScale;
                float pi = p[i];
                if (k.DecayOn) pi *= k.Decay;
                float mi = m[i] + k.OneMinusBeta1 * (gi - m[i]);
                float vi = v[i] * k.Beta2 + k.OneMinusBeta2 * gi * gi;
                float denominator = MathF.Sqrt(vi) / k.Bias2Sqrt + k.Eps;
                p[i] = pi - k.StepSize * (mi / denominator);
                m[i] = mi;
                v[i] = vi;
            }
        }

        /// <summary>The step's scalars in float32, as torch's float kernels use them.</summary>
        private readonly struct Coefficients
        {
            public Coefficients(long step, double lr, double beta1, double beta2, double eps, double weightDecay, double gradScale)
            {
                GradScale = (float)gradScale;
                DecayOn = weightDecay != 0;
                Decay = (float)(1 - lr * weightDecay);
                OneMinusBeta1 = (float)(1 - beta1);
                Beta2 = (float)beta2;
                OneMinusBeta2 = (float)(1 - beta2);
                Bias2Sqrt = (float)Math.Pow(1 - Math.Pow(beta2, step), 0.5);
                Eps = (float)eps;
                StepSize = (float)(lr / (1 - Math.Pow(beta1, step)));
            }

            public float GradScale { get; }
            public bool DecayOn { get; }
            public float Decay { get; }
            public float OneMinusBeta1 { get; }
            public float Beta2 { get; }
            public float OneMinusBeta2 { get; }
            public float Bias2Sqrt { get; }
            public float Eps { get; }
            public float StepSize { get; }
        }
    }
}
