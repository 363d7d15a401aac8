using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests
{
    /// <summary>TorchSharp's native code loads on this host (the build's libstdc++ step) and does real work.</summary>
    public class TorchSharpRuntimeTests
    {
        [Fact]
        public void CausalAttentionRunsForwardAndBackwardOnCpu()
        {
            using var scope = NewDisposeScope();
            torch.manual_seed(1);
            var q = randn(2, 4, 16, 8, requires_grad: true);
            var k = randn(2, 4, 16, 8, requires_grad: true);
            var v = randn(2, 4, 16, 8, requires_grad: true);

            var output = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
            output.sum().backward();

            // The first query attends only to the first key, so its output is exactly the first value.
            Assert.True(allclose(output[.., .., 0], v[.., .., 0], rtol: 1e-5, atol: 1e-6));
            // Keys after the last query position receive no gradient from earlier queries except through causality:
            // the last key is seen only by the last query.
            Assert.Equal(new long[] { 2, 4, 16, 8 }, q.grad!.shape);
            Assert.True(k.grad!.abs().sum().item<float>() > 0);
            Assert.True(v.grad![.., .., -1].abs().sum().item<float>() > 0);
        }
    }
}
