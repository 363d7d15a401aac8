using System;
using TorchSharp;
using XTuner.Training.Optim;
using XTuner.Training.Tests.Models;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Optim
{
    /// <summary>
    /// The functional AdamW against the algorithm of torch.optim.AdamW evaluated in double precision (the exactness
    /// against torch itself is in the parity tests, on the reference gradients).
    /// </summary>
    public class AdamWTests
    {
        private const double Lr = 1e-2, Beta1 = 0.9, Beta2 = 0.95, Eps = 1e-8, WeightDecay = 0.1;

        [Fact]
        public void FollowsTorchAdamWOverSeveralSteps()
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(21);
            var param = randn(new long[] { 6, 5 }, generator: generator);
            var (m, v) = (zeros_like(param), zeros_like(param));
            var p = param.to(ScalarType.Float64).data<double>().ToArray();
            var em = new double[p.Length];
            var ev = new double[p.Length];
            for (long step = 1; step <= 4; step++)
            {
                var grad = randn(new long[] { 6, 5 }, generator: generator);
                AdamW.Step(param, grad, m, v, step, Lr, Beta1, Beta2, Eps, WeightDecay);
                var g = grad.to(ScalarType.Float64).data<double>().ToArray();
                for (var i = 0; i < p.Length; i++)
                {
                    p[i] *= 1 - Lr * WeightDecay;
                    em[i] = Beta1 * em[i] + (1 - Beta1) * g[i];
                    ev[i] = Beta2 * ev[i] + (1 - Beta2) * g[i] * g[i];
                    var denominator = Math.Sqrt(ev[i]) / Math.Sqrt(1 - Math.Pow(Beta2, step)) + Eps;
                    p[i] -= Lr / (1 - Math.Pow(Beta1, step)) * em[i] / denominator;
                }
            }
            TensorAssert.Close(param, tensor(p).reshape(6, 5), 1e-6, "param");
            TensorAssert.Close(m, tensor(em).reshape(6, 5), 1e-6, "exp_avg");
            TensorAssert.Close(v, tensor(ev).reshape(6, 5), 1e-6, "exp_avg_sq");
        }

        [Fact]
        public void AFlatBufferStepsExactlyLikeItsParameters()
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(22);
            var flat = randn(new long[] { 30 }, generator: generator);
            var flatGrad = randn(new long[] { 30 }, generator: generator);
            var (flatM, flatV) = (zeros_like(flat), zeros_like(flat));
            var first = flat.narrow(0, 0, 12).clone().reshape(3, 4);
            var second = flat.narrow(0, 12, 18).clone().reshape(18);
            var (m1, v1, m2, v2) = (zeros_like(first), zeros_like(first), zeros_like(second), zeros_like(second));
            for (long step = 1; step <= 2; step++)
            {
                AdamW.Step(flat, flatGrad, flatM, flatV, step, Lr, Beta1, Beta2, Eps, WeightDecay);
                AdamW.Step(first, flatGrad.narrow(0, 0, 12).reshape(3, 4), m1, v1, step, Lr, Beta1, Beta2, Eps, WeightDecay);
                AdamW.Step(second, flatGrad.narrow(0, 12, 18), m2, v2, step, Lr, Beta1, Beta2, Eps, WeightDecay);
            }
            TensorAssert.Equal(cat(new[] { first.reshape(-1), second }), flat, "flat");
        }

        [Fact]
        public void ZeroWeightDecayLeavesTheDecayOut()
        {
            using var scope = NewDisposeScope();
            var param = ones(4);
            AdamW.Step(param, zeros(4), zeros(4), zeros(4), 1, Lr, Beta1, Beta2, Eps, 0);
            TensorAssert.Equal(param, ones(4), "param");
        }

        [Fact]
        public void RejectsWhatTheUpdateCannotApplyTo()
        {
            using var scope = NewDisposeScope();
            Assert.Throws<ArgumentException>(() => AdamW.Step(ones(4, ScalarType.BFloat16), ones(4), zeros(4), zeros(4), 1, Lr, Beta1, Beta2, Eps, 0));
            Assert.Throws<ArgumentException>(() => AdamW.Step(ones(4), ones(5), zeros(4), zeros(4), 1, Lr, Beta1, Beta2, Eps, 0));
            Assert.Throws<ArgumentOutOfRangeException>(() => AdamW.Step(ones(4), ones(4), zeros(4), zeros(4), 0, Lr, Beta1, Beta2, Eps, 0));
        }
    }
}
