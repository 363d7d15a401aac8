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

            var output = new LocalCausalAttention().Attend(q, k, v);

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
            Assert.Throws<ArgumentException>(() => new LocalCausalAttention().Attend(zeros(1, 4, 6, 8), zeros(1, 4, 4, 8), zeros(1, 4, 4, 8)));
        }
    }
}
