using System;
using XTuner.Training.Models;
using XTuner.Training.Models.Attention;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Models
{
    /// <summary>The default kernel against eager grouped-query causal attention as transformers writes it.</summary>
    public class LocalCausalAttentionTests
    {
        [Fact]
        public void MatchesEagerGroupedQueryAttention()
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(5);
            var q = randn(new long[] { 2, 9, 6, 8 }, generator: generator);
            var k = randn(new long[] { 2, 9, 2, 8 }, generator: generator);
            var v = randn(new long[] { 2, 9, 2, 8 }, generator: generator);

            var output = new LocalCausalAttention().Attend(q, k, v, AttentionMask.Causal);

            // Query head h reads key/value head h / 3; scores scaled by 1/sqrt(8); future positions masked.
            var keys = k.repeat_interleave(3, dim: 2).transpose(1, 2);
            var values = v.repeat_interleave(3, dim: 2).transpose(1, 2);
            var scores = q.transpose(1, 2).matmul(keys.transpose(2, 3)).div(Math.Sqrt(8));
            var future = ones(9, 9, ScalarType.Bool).triu(1);
            var expected = scores.masked_fill(future, double.NegativeInfinity).softmax(-1).matmul(values).transpose(1, 2);
            Assert.Equal(new long[] { 2, 9, 6, 8 }, output.shape);
            TensorAssert.Close(output, expected, 1e-6, "attention");
        }

        [Fact]
        public void RejectsHeadCountsThatDoNotGroup()
        {
            using var scope = NewDisposeScope();
            Assert.Throws<ArgumentException>(() => new LocalCausalAttention().Attend(zeros(1, 4, 6, 8), zeros(1, 4, 4, 8), zeros(1, 4, 4, 8), AttentionMask.Causal));
        }
    

        /// <summary>Eager attention with an explicit [S, S] mask of what each query may see (the reference).</summary>
        private static Tensor Eager(Tensor q, Tensor k, Tensor v, Func<int, int, int, bool> allowed)
        {
            long b = q.shape[0], n = q.shape[1], groups = q.shape[2] / k.shape[2];
            var keys = k.repeat_interleave(groups, dim: 2).transpose(1, 2);
            var values = v.repeat_interleave(groups, dim: 2).transpose(1, 2);
            var scores = q.transpose(1, 2).matmul(keys.transpose(2, 3)).div(Math.Sqrt(q.shape[3]));
            var blocked = zeros(b, 1, n, n, ScalarType.Bool);
            for (int r = 0; r < b; r++)
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++)
                        if (!allowed(r, i, j)) blocked[r, 0, i, j] = tensor(true);
            return scores.masked_fill(blocked, double.NegativeInfinity).softmax(-1).matmul(values).transpose(1, 2);
        }

        public static TheoryData<int?, bool> Masks() => new TheoryData<int?, bool>
        {
            { null, true }, { 3, false }, { 3, true }, { 5, true }, { 64, true },
        };

        [Theory]
        [MemberData(nameof(Masks))]
        public void DocumentsAndWindowsMatchEagerAttentionWithTheirMask(int? window, bool documents)
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(8);
            var q = randn(new long[] { 2, 13, 4, 8 }, generator: generator).requires_grad_();
            var k = randn(new long[] { 2, 13, 2, 8 }, generator: generator).requires_grad_();
            var v = randn(new long[] { 2, 13, 2, 8 }, generator: generator).requires_grad_();
            // Row 0: documents at 0, 4 and 11 (the last two tokens a segment of padding); row 1: at 0 and 6.
            var starts = new[] { new[] { 0, 4, 11 }, new[] { 0, 6 } };
            var layout = documents ? new DocumentLayout(starts, 13) : null;
            int Document(int row, int t) => documents ? Array.FindLastIndex(starts[row], s => s <= t) : 0;
            bool Allowed(int row, int i, int j) => j <= i && Document(row, i) == Document(row, j) && (window is not int w || j > i - w);

            var output = new LocalCausalAttention().Attend(q, k, v, new AttentionMask(layout, window));
            var expected = Eager(q, k, v, Allowed);
            TensorAssert.Close(output, expected, 1e-6, "attention");

            var probe = randn(output.shape, generator: generator);
            var grads = autograd.grad(new[] { output.mul(probe).sum() }, new[] { q, k, v });
            var expectedGrads = autograd.grad(new[] { expected.mul(probe).sum() }, new[] { q, k, v });
            for (int i = 0; i < 3; i++) TensorAssert.Close(grads[i], expectedGrads[i], 1e-5, $"gradient {"qkv"[i]}");
        }

        [Fact]
        public void DocumentsOfManyLengthsBatchedByBucketMatchEagerAttention()
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(9);
            var q = randn(new long[] { 2, 90, 4, 8 }, generator: generator).requires_grad_();
            var k = randn(new long[] { 2, 90, 1, 8 }, generator: generator).requires_grad_();
            var v = randn(new long[] { 2, 90, 1, 8 }, generator: generator).requires_grad_();
            // Lengths 17, 3, 33, 17, 20 and 1, 16, 40, 33: buckets of 16, 32 and 48 tokens, shared across rows, with
            // padding; a window of 24 sends the 33- and 40-token documents to the windowed path.
            var starts = new[] { new[] { 0, 17, 20, 53, 70 }, new[] { 0, 1, 17, 57 } };
            var layout = new DocumentLayout(starts, 90);
            foreach (var window in new int?[] { null, 24 })
            {
                bool Allowed(int row, int i, int j) =>
                    j <= i && Array.FindLastIndex(starts[row], s => s <= i) == Array.FindLastIndex(starts[row], s => s <= j) && (window is not int w || j > i - w);
                var output = new LocalCausalAttention().Attend(q, k, v, new AttentionMask(layout, window));
                var expected = Eager(q, k, v, Allowed);
                TensorAssert.Close(output, expected, 1e-6, $"attention, window {window}");
                var probe = randn(output.shape, generator: generator);
                var grads = autograd.grad(new[] { output.mul(probe).sum() }, new[] { q, k, v });
                var expectedGrads = autograd.grad(new[] { expected.mul(probe).sum() }, new[] { q, k, v });
                for (int i = 0; i < 3; i++) TensorAssert.Close(grads[i], expectedGrads[i], 1e-5, $"gradient {"qkv"[i]}, window {window}");
            }
        }

        [Theory]
        [InlineData(1, 16)]
        [InlineData(16, 16)]
        [InlineData(17, 32)]
        [InlineData(33, 48)]
        [InlineData(300, 320)]
        [InlineData(450, 512)]
        [InlineData(512, 512)]
        [InlineData(513, 624)]
        public void SegmentLengthsPadToTheLadder(int length, int padded) =>
            Assert.Equal(padded, SegmentBuckets.PaddedLength(length));
    }
}
