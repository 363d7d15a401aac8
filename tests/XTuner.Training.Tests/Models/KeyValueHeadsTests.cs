using XTuner.Training.Models.Attention;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Models
{
    public class KeyValueHeadsTests
    {
        [Theory]
        [InlineData(1)]
        [InlineData(4)]
        public void SumRepeatedIsTheGradientOfRepeat(long times)
        {
            using var scope = NewDisposeScope();
            manual_seed(8);
            var heads = randn(2, 5, 3, 4).requires_grad_();
            var gradient = randn(2, 5, 3 * times, 4);
            KeyValueHeads.Repeat(heads, times).backward(new[] { gradient });
            TensorAssert.Close(KeyValueHeads.SumRepeated(gradient, times), heads.grad!, 1e-6, "gradient");
        }
    }
}
