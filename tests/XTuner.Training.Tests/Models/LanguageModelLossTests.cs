using System;
using XTuner.Training.Models;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Models
{
    /// <summary>The chunked loss against cross-entropy over fully materialised logits.</summary>
    public class LanguageModelLossTests
    {
        private const long Tokens = 37, Hidden = 16, Vocab = 50;

        [Theory]
        [InlineData(1, 1.0)]
        [InlineData(7, 1.0)]
        [InlineData(37, 0.0625)]
        [InlineData(100, 1.0)]
        public void MatchesFullLogitsLossAndGradients(int chunkTokens, double logitScale)
        {
            using var scope = NewDisposeScope();
            var (hidden, weight, targets) = Inputs(ScalarType.Float32);

            var loss = LanguageModelLoss.Sum(hidden, weight, targets, logitScale, chunkTokens);
            loss.backward();
            var (hiddenGradient, weightGradient) = (hidden.grad!.clone(), weight.grad!.clone());
            hidden.grad = null;
            weight.grad = null;

            var expected = nn.functional.cross_entropy(hidden.mm(weight.t()).mul(logitScale), targets, reduction: nn.Reduction.Sum);
            expected.backward();

            Assert.Equal(ScalarType.Float32, loss.dtype);
            Assert.Empty(loss.shape);
            Assert.Equal(expected.item<float>(), loss.item<float>(), 4);
            TensorAssert.Close(hiddenGradient, hidden.grad!, 1e-6, "hidden gradient");
            TensorAssert.Close(weightGradient, weight.grad!, 1e-6, "weight gradient");
        }

        [Fact]
        public void ScalesGradientsByTheIncomingGradient()
        {
            using var scope = NewDisposeScope();
            var (hidden, weight, targets) = Inputs(ScalarType.Float32);
            LanguageModelLoss.Sum(hidden, weight, targets, 1.0, 8).mul(0.25).backward();
            var scaled = hidden.grad!.clone();
            hidden.grad = null;
            LanguageModelLoss.Sum(hidden, weight, targets, 1.0, 8).backward();
            TensorAssert.Close(scaled, hidden.grad!.mul(0.25), 1e-7, "hidden gradient");
        }

        [Fact]
        public void Bfloat16HiddenStatesGiveFloat32LossAndGradientsInTheirDtype()
        {
            using var scope = NewDisposeScope();
            var (hidden, weight, targets) = Inputs(ScalarType.BFloat16);
            var loss = LanguageModelLoss.Sum(hidden, weight, targets, 1.0, 8);
            loss.backward();

            // The float32 computation on the same bf16 values.
            var expected = nn.functional.cross_entropy(hidden.detach().to(ScalarType.Float32).mm(weight.detach().to(ScalarType.Float32).t()), targets, reduction: nn.Reduction.Sum);
            Assert.Equal(ScalarType.Float32, loss.dtype);
            Assert.True(Math.Abs(expected.item<float>() - loss.item<float>()) / expected.item<float>() < 1e-2);
            Assert.Equal(ScalarType.BFloat16, hidden.grad!.dtype);
            Assert.Equal(ScalarType.BFloat16, weight.grad!.dtype);
        }

        [Fact]
        public void ShiftTargetsPairsEachTokenWithTheNextLabel()
        {
            using var scope = NewDisposeScope();
            var labels = tensor(new long[] { 1, 2, 3, 4, -100, 6, 7, 8 }).reshape(2, 4);
            var targets = LanguageModelLoss.ShiftTargets(labels);
            Assert.Equal(new long[] { 2, 3, 4, -100, 6, 7, 8, -100 }, targets.data<long>().ToArray());
        }

        [Fact]
        public void RejectsMismatchedShapes()
        {
            using var scope = NewDisposeScope();
            var (hidden, weight, targets) = Inputs(ScalarType.Float32);
            Assert.Throws<ArgumentException>(() => LanguageModelLoss.Sum(hidden, weight.narrow(1, 0, 8), targets, 1.0, 8));
            Assert.Throws<ArgumentException>(() => LanguageModelLoss.Sum(hidden, weight, targets.narrow(0, 0, 5), 1.0, 8));
            Assert.Throws<ArgumentOutOfRangeException>(() => LanguageModelLoss.Sum(hidden, weight, targets, 1.0, 0));
        }

        private static (Tensor Hidden, Tensor Weight, Tensor Targets) Inputs(ScalarType dtype)
        {
            var generator = new Generator(11);
            var hidden = randn(new[] { Tokens, Hidden }, generator: generator).to(dtype).requires_grad_();
            var weight = randn(new[] { Vocab, Hidden }, generator: generator).mul(0.3).to(dtype).requires_grad_();
            var targets = randint(0, Vocab, new[] { Tokens }, ScalarType.Int64, generator: generator);
            targets[..4] = tensor(LanguageModelLoss.IgnoreIndex);
            targets[20] = tensor(LanguageModelLoss.IgnoreIndex);
            return (hidden, weight, targets);
        }
    }
}
