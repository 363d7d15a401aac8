using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using XTuner.Training.Distributed;
using static TorchSharp.torch;

namespace XTuner.Training.Optim
{
    /// <summary>
    /// Times the two ways offload_optimizer could update host-resident states: libtorch's CPU kernels (the AdamW of the
    /// device path, several passes over the state) and the fused SIMD pass of <see cref="CpuAdamW"/>.
    /// </summary>
    public static class AdamWBenchmark
    {
        /// <summary>One timed way: median seconds per step over <c>repeats</c>, and the state bytes it moved per second.</summary>
        public sealed record Result(string Method, long Elements, int Threads, double SecondsPerStep, double GigabytesPerSecond);

        public static IReadOnlyList<Result> Run(long elements, int threads, int repeats)
        {
            set_num_threads(threads);
            using var scope = NewDisposeScope();
            var g = randn(elements);
            var results = new List<Result>();
            // Bytes a fused step must move at least: read g, p, m, v and write p, m, v (float32).
            double bytes = elements * 4.0 * 7;
            foreach (var (name, step) in new (string, Action<long>)[]
            {
                ("libtorch", t => Libtorch(g, t)),
                ("fused SIMD", t => Fused(g, t, threads)),
            })
            {
                var times = new List<double>();
                for (long t = 1; t <= repeats + 1; t++)
                {
                    var clock = Stopwatch.StartNew();
                    step(t);
                    if (t > 1) times.Add(clock.Elapsed.TotalSeconds);
                }
                double median = times.OrderBy(x => x).ElementAt(times.Count / 2);
                results.Add(new Result(name, elements, threads, median, bytes / median / 1e9));
            }
            return results;
        }

        private static Tensor? _p, _m, _v, _p2, _m2, _v2;

        private static void Libtorch(Tensor g, long step)
        {
            _p ??= zeros_like(g).DetachFromDisposeScope();
            _m ??= zeros_like(g).DetachFromDisposeScope();
            _v ??= zeros_like(g).DetachFromDisposeScope();
            AdamW.Step(_p, g, _m, _v, step, 1e-4, 0.9, 0.95, 1e-8, 0.1);
        }

        private static unsafe void Fused(Tensor g, long step, int threads)
        {
            _p2 ??= zeros_like(g).DetachFromDisposeScope();
            _m2 ??= zeros_like(g).DetachFromDisposeScope();
            _v2 ??= zeros_like(g).DetachFromDisposeScope();
            CpuAdamW.Step((float*)TensorMemory.Pointer(_p2), (float*)TensorMemory.Pointer(g), (float*)TensorMemory.Pointer(_m2),
                (float*)TensorMemory.Pointer(_v2), g.numel(), step, 1e-4, 0.9, 0.95, 1e-8, 0.1, 1.0, threads);
        }
    }
}
