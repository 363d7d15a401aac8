using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Models
{
    /// <summary>Comparisons by the largest error relative to the largest reference value: max|a - e| / max|e|.</summary>
    internal static class TensorAssert
    {
        public static double RelativeDifference(Tensor actual, Tensor expected)
        {
            using var scope = NewDisposeScope();
            Assert.Equal(expected.shape, actual.shape);
            var a = actual.detach().to(ScalarType.Float64);
            var e = expected.detach().to(ScalarType.Float64);
            var scale = e.abs().max().item<double>();
            var difference = a.sub(e).abs().max().item<double>();
            return scale == 0 ? difference : difference / scale;
        }

        public static double Close(Tensor actual, Tensor expected, double tolerance, string what)
        {
            var difference = RelativeDifference(actual, expected);
            Assert.True(difference <= tolerance, $"{what}: max|a-e|/max|e| = {difference:E3} > {tolerance:E1}");
            return difference;
        }

        public static void Equal(Tensor actual, Tensor expected, string what)
        {
            Assert.Equal(expected.shape, actual.shape);
            Assert.Equal(expected.dtype, actual.dtype);
            Assert.False(actual.ne(expected).any().item<bool>(), $"{what}: tensors differ");
        }
    }
}
