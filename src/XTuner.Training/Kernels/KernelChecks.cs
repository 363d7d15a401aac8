using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using XTuner.Training.Models;
using XTuner.Training.Optim;
using static TorchSharp.torch;

namespace XTuner.Training.Kernels
{
    /// <summary>One compared quantity: the largest absolute difference, and that over the reference's largest magnitude.</summary>
    public sealed record KernelDifference(string Quantity, double MaxAbs, double MaxRel, bool Passed);

    /// <summary>One kernel at one dtype and shape against its TorchSharp path: every value and gradient, and the time of each.</summary>
    public sealed record KernelCheck(string Kernel, string DType, string Shape, IReadOnlyList<KernelDifference> Differences,
        double FusedMilliseconds, double TorchMilliseconds)
    {
        /// <summary>Every quantity is within the dtype's threshold.</summary>
        public bool Passed => Differences.All(d => d.Passed);

        /// <summary>TorchSharp time over fused time.</summary>
        public double Speedup => TorchMilliseconds / FusedMilliseconds;
    }

    /// <summary>
    /// <c>xtuner check-kernels</c>: each fused kernel and its TorchSharp path on the same random CUDA tensors of
    /// realistic shapes (a 4096 x 4096 RMSNorm, a 4096 x 11008 SwiGLU, 16M AdamW elements over three steps from a
    /// float32 and from a bf16 gradient, the gradient norm's sum of squares of 16M bf16 elements, rotary embedding of
    /// [1, 4096, 32, 128] queries, the chunked loss of 4096 tokens over 32000, kept attention of 8192 tokens), values and gradients
    /// compared, and each timed over many iterations between two synchronizations. A quantity passes when its largest
    /// difference is within <see cref="Threshold"/> of the reference's largest magnitude.
    /// </summary>
    public static class KernelChecks
    {
        /// <summary>Largest difference over the reference's largest magnitude that passes: 1e-5 in float32, 1e-2 in bf16 (between two and three bf16 ulps).</summary>
        public static double Threshold(ScalarType dtype) => dtype == ScalarType.BFloat16 ? 1e-2 : 1e-5;

        /// <summary>Runs every check on <paramref name="device"/> (CUDA, with the kernels available), timing <paramref name="iterations"/> runs of each path.</summary>
        public static List<KernelCheck> Run(Device device, int iterations, Action<KernelCheck>? checkedOne = null)
        {
            bool enabled = FusedKernels.Enabled;
            FusedKernels.Enabled = true;
            try
            {
                manual_seed(0);
                var checks = new List<KernelCheck>();
                void Add(KernelCheck check)
                {
                    checks.Add(check);
                    checkedOne?.Invoke(check);
                }
                foreach (var gradient in new[] { ScalarType.Float32, ScalarType.BFloat16 })
                    Add(AdamWCheck(device, 1L << 24, gradient, iterations));
                Add(SumOfSquaresCheck(device, 1L << 24, iterations));
                foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
                    Add(RmsNormCheck(device, dtype, 4096, 4096, iterations));
                foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
                    Add(SwiGluCheck(device, dtype, 4096, 11008, iterations));
                foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
                    Add(RotaryCheck(device, dtype, 4096, 32, 128, iterations));
                foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
                    Add(CrossEntropyCheck(device, dtype, 4096, 4096, 32000, iterations));
                Add(KeptAttentionCheck(device, 8192, 32, 4, 64, iterations));
                return checks;
            }
            finally
            {
                FusedKernels.Enabled = enabled;
            }
        }

        // gradientType bf16: the gradient as a bf16 model's .grad hands it over, which the TorchSharp path widens first.
        private static KernelCheck AdamWCheck(Device device, long n, ScalarType gradientType, int iterations)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            const double lr = 1e-3, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, decay = 0.1, clip = 0.5;
            var start = randn(n, ScalarType.Float32, device);
            Tensor p1 = start.clone(), m1 = zeros_like(start), v1 = zeros_like(start);
            Tensor p2 = start.clone(), m2 = zeros_like(start), v2 = zeros_like(start), low = empty(n, ScalarType.BFloat16, device);
            // As DeviceOptimizerStates does it without the kernel: clip, the TorchSharp AdamW, then the cast the parameters take.
            void Torch(Tensor g, long t)
            {
                using var s = NewDisposeScope();
                AdamW.Step(p1, g.to(ScalarType.Float32).mul(clip), m1, v1, t, lr, beta1, beta2, eps, decay);
                p1.to(ScalarType.BFloat16);
            }
            void Fused(Tensor g, long t) => AdamWKernel.Step(p2, g, m2, v2, low, t, lr, beta1, beta2, eps, decay, clip);
            for (long t = 1; t <= 3; t++)
            {
                using var s = NewDisposeScope();
                var g = randn(n, ScalarType.Float32, device).mul_(1e-2).to(gradientType);
                Torch(g, t);
                Fused(g, t);
            }
            var differences = new List<KernelDifference>
            {
                Compare("param", p2, p1, ScalarType.Float32),
                Compare("exp_avg", m2, m1, ScalarType.Float32),
                Compare("exp_avg_sq", v2, v1, ScalarType.Float32),
                Compare("param_bf16", low, p1.to(ScalarType.BFloat16), ScalarType.BFloat16),
            };
            var gradient = randn(n, ScalarType.Float32, device).mul_(1e-2).to(gradientType);
            double fused = Time(device, iterations, i => Fused(gradient, 4 + i));
            double torchPath = Time(device, iterations, i => Torch(gradient, 4 + i));
            var types = gradientType == ScalarType.BFloat16 ? "float32, bf16 gradient (bf16 copy)" : "float32 (bf16 copy)";
            return new KernelCheck(AdamWKernel.Name, types, $"[{n}] x 3 steps", differences, fused, torchPath);
        }

        // The gradient norm's sum of squares of a bf16 gradient, against widening it and taking the float32 dot product.
        private static KernelCheck SumOfSquaresCheck(Device device, long n, int iterations)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var x = randn(n, ScalarType.Float32, device).mul_(1e-2).to(ScalarType.BFloat16);
            Tensor Torch()
            {
                var wide = x.to(ScalarType.Float32);
                return wide.dot(wide).reshape(1);
            }
            var differences = new List<KernelDifference> { Compare("sum", SumOfSquaresKernel.Apply(x), Torch(), ScalarType.Float32) };
            double fused = Time(device, iterations, _ => SumOfSquaresKernel.Apply(x).Dispose());
            double torchPath = Time(device, iterations, _ => Torch().Dispose());
            return new KernelCheck(SumOfSquaresKernel.Name, "bf16 in, float32 sum", $"[{n}]", differences, fused, torchPath);
        }

        private static KernelCheck RmsNormCheck(Device device, ScalarType dtype, long rows, long hidden, int iterations)
        {
            using var scope = NewDisposeScope();
            const double eps = 1e-5;
            var x = randn(new[] { rows, hidden }, dtype, device);
            var w = randn(hidden, ScalarType.Float32, device).mul_(0.1).add_(1).to(dtype);
            return GradientCheck(RmsNormKernel.KernelName, dtype, $"[{rows}, {hidden}] fwd+bwd", new[] { x, w }, new[] { "output", "grad_input", "grad_weight" },
                t => RmsNorm.Ops(t[0], t[1], eps), t => RmsNormKernel.Apply(t[0], t[1], eps), device, iterations);
        }

        private static KernelCheck SwiGluCheck(Device device, ScalarType dtype, long rows, long intermediate, int iterations)
        {
            using var scope = NewDisposeScope();
            var gate = randn(new[] { rows, intermediate }, dtype, device).mul_(2);
            var up = randn(new[] { rows, intermediate }, dtype, device);
            return GradientCheck(SwiGluKernel.KernelName, dtype, $"[{rows}, {intermediate}] fwd+bwd", new[] { gate, up }, new[] { "output", "grad_gate", "grad_up" },
                t => nn.functional.silu(t[0]).mul(t[1]), t => SwiGluKernel.Apply(t[0], t[1]), device, iterations);
        }

        // Queries of one 7B layer at 4k tokens: positions 0..tokens-1, the kernel against the TorchSharp ops.
        private static KernelCheck RotaryCheck(Device device, ScalarType dtype, long tokens, long heads, long dim, int iterations)
        {
            using var scope = NewDisposeScope();
            var tables = new RotaryEmbedding(new XTuner.Core.Configuration.ModelSpec { RopeTheta = 10000 }, (int)dim, XTuner.Core.Models.RotaryLayout.HalfSplit)
                .Tables(arange(tokens, device: device).unsqueeze(0), null, dtype);
            var x = randn(new[] { 1, tokens, heads, dim }, dtype, device);
            // The tables take no gradient: the output and the input's gradient.
            return GradientCheck(RotaryKernel.KernelName, dtype, $"[1, {tokens}, {heads}, {dim}] fwd+bwd", new[] { x }, new[] { "output", "grad_input" },
                t => tables.Ops(t[0]), t => RotaryKernel.Apply(t[0], tables.Cos, tables.Sin), device, iterations);
        }

        // The chunked loss of 4096 tokens over a 32000-token vocabulary (one chunk), with and without the kernels, a tenth
        // of the targets ignored: the summed loss and both gradients.
        private static KernelCheck CrossEntropyCheck(Device device, ScalarType dtype, long tokens, long hidden, long vocab, int iterations)
        {
            using var scope = NewDisposeScope();
            var h = randn(new[] { tokens, hidden }, dtype, device);
            var w = randn(new[] { vocab, hidden }, dtype, device).mul_(0.02);
            var targets = randint(0, vocab, new[] { tokens }, ScalarType.Int64, device);
            targets.masked_fill_(rand(tokens, device: device).lt(0.1), LanguageModelLoss.IgnoreIndex);
            int chunk = XTuner.Core.Planning.LossChunks.Tokens(vocab);
            Func<Tensor[], Tensor> Loss(bool kernels) => t =>
            {
                FusedKernels.Enabled = kernels;
                return LanguageModelLoss.Sum(t[0], t[1], targets, 1.0, chunk);
            };
            var check = GradientCheck(CrossEntropyKernel.KernelName, dtype, $"[{tokens}, {hidden}] x [{vocab}, {hidden}] fwd+bwd", new[] { h, w },
                new[] { "loss", "grad_hidden", "grad_weight" }, Loss(false), Loss(true), device, iterations);
            FusedKernels.Enabled = true;
            return check;
        }

        // A layer that keeps attention (recompute_attention: false) the way a checkpoint runs it, forward without
        // autograd and then the recompute's replay, with cuDNN's output and log-sum-exp kept alone, against SDPA's autograd:
        // a 1.1B layer's grouped-query shape (the repeated heads' gradients summed back), bf16, causal.
        private static KernelCheck KeptAttentionCheck(Device device, long tokens, long heads, long keyHeads, long dim, int iterations)
        {
            using var scope = NewDisposeScope();
            var attention = new Models.Attention.LocalCausalAttention();
            var mask = Models.Attention.AttentionMask.Causal;
            var q = randn(new[] { 1, tokens, heads, dim }, ScalarType.BFloat16, device);
            var k = randn(new[] { 1, tokens, keyHeads, dim }, ScalarType.BFloat16, device);
            var v = randn(new[] { 1, tokens, keyHeads, dim }, ScalarType.BFloat16, device);
            Tensor Kept(Tensor[] t)
            {
                var kept = new Models.Attention.KeptAttention();
                using (no_grad())
                    kept.Attend(attention, t[0], t[1], t[2], mask);
                if (!kept.KeepsOutputOnly)
                    throw new InvalidOperationException($"kept attention did not keep cuDNN's output alone for q [1, {tokens}, {heads}, {dim}] bf16 (SDPA runs another backend here)");
                return kept.Attend(attention, t[0], t[1], t[2], mask);
            }
            return GradientCheck("kept attention (cuDNN output + log-sum-exp)", ScalarType.BFloat16,
                $"q [1, {tokens}, {heads}, {dim}], k/v {keyHeads} heads, fwd+bwd", new[] { q, k, v }, new[] { "output", "grad_q", "grad_k", "grad_v" },
                t => attention.Attend(t[0], t[1], t[2], mask), Kept, device, iterations);
        }

        // An op of any inputs: its output and every input's gradient (from one random output gradient) of the fused op
        // against the TorchSharp one, each within the threshold of its own dtype, and forward+backward timed for each.
        private static KernelCheck GradientCheck(string kernel, ScalarType dtype, string shape, Tensor[] inputs, string[] names,
            Func<Tensor[], Tensor> torchOp, Func<Tensor[], Tensor> fusedOp, Device device, int iterations)
        {
            Tensor? dy = null;
            IList<Tensor> Run(Func<Tensor[], Tensor> op)
            {
                var leaves = inputs.Select(t => t.detach().requires_grad_()).ToArray();
                using var grad = enable_grad();
                var y = op(leaves);
                dy ??= randn(y.shape, y.dtype, device);
                return new[] { y.detach() }.Concat(autograd.grad(new[] { y }, leaves, new[] { dy })).ToList();
            }
            var reference = Run(torchOp);
            var fusedResult = Run(fusedOp);
            var differences = names.Select((name, i) => Compare(name, fusedResult[i], reference[i], reference[i].dtype)).ToList();
            double fused = Time(device, iterations, _ => Run(fusedOp));
            double torchPath = Time(device, iterations, _ => Run(torchOp));
            return new KernelCheck(kernel, Name(dtype), shape, differences, fused, torchPath);
        }

        private static KernelDifference Compare(string quantity, Tensor actual, Tensor expected, ScalarType dtype)
        {
            using var scope = NewDisposeScope();
            var a = actual.to(ScalarType.Float64);
            var e = expected.to(ScalarType.Float64);
            double maxAbs = a.sub(e).abs().max().item<double>();
            double scale = e.abs().max().item<double>();
            // NaN anywhere fails: NaN compares false.
            double maxRel = scale > 0 ? maxAbs / scale : maxAbs;
            return new KernelDifference(quantity, maxAbs, maxRel, maxRel <= Threshold(dtype));
        }

        // Milliseconds per run of body, after two warm-up runs, between two synchronizations.
        private static double Time(Device device, int iterations, Action<int> body)
        {
            for (int i = 0; i < 2; i++)
            {
                using var warm = NewDisposeScope();
                body(i);
            }
            cuda.synchronize(device);
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < iterations; i++)
            {
                using var s = NewDisposeScope();
                body(i);
            }
            cuda.synchronize(device);
            return clock.Elapsed.TotalMilliseconds / iterations;
        }

        private static string Name(ScalarType dtype) => dtype == ScalarType.BFloat16 ? "bfloat16" : "float32";
    }
}
