using System.Linq;
using TorchSharp;
using XTuner.Core.Configuration;
using XTuner.Training.Models;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Models
{
    /// <summary>mlp_tiles: the MLP over sequence tiles gives the whole MLP's output and gradients.</summary>
    public class TiledMlpTests
    {
        [Theory]
        [InlineData(3)]
        [InlineData(7)]
        public void TilesGiveTheWholeMlpsOutputAndGradients(int tiles)
        {
            using var scope = NewDisposeScope();
            manual_seed(3);
            var gate = new LinearLayer(16, 40, false, CPU, ScalarType.Float32);
            var up = new LinearLayer(16, 40, false, CPU, ScalarType.Float32);
            var down = new LinearLayer(40, 16, false, CPU, ScalarType.Float32);
            var weights = new[] { gate.Weight, up.Weight, down.Weight };
            var input = randn(2, 20, 16);
            var probe = randn(2, 20, 16);

            var x = input.clone().requires_grad_();
            SwiGlu.Whole(x, gate, up, down).mul(probe).sum().backward();
            var expected = weights.Select(w => w.grad!.clone()).Append(x.grad!.clone()).ToList();
            var output = SwiGlu.Whole(input, gate, up, down).detach();
            foreach (var w in weights) w.grad = null;

            var tiled = input.clone().requires_grad_();
            var y = SwiGlu.Apply(tiled, gate, up, down, new MlpTiling(AutoCount.Of(tiles)));
            TensorAssert.Close(y, output, 1e-6, "output");
            y.mul(probe).sum().backward();
            var actual = weights.Select(w => w.grad!).Append(tiled.grad!).ToList();
            for (int i = 0; i < actual.Count; i++) TensorAssert.Close(actual[i], expected[i], 1e-6, $"gradient {i}");
        }

        [Fact]
        public void AnUnreadLinearHasTheLinearsGradients()
        {
            using var scope = NewDisposeScope();
            manual_seed(6);
            var layer = new LinearLayer(24, 10, false, CPU, ScalarType.Float32);
            var input = randn(2, 7, 24);
            var probe = randn(2, 7, 10);

            var x = input.clone().requires_grad_();
            layer.forward(x).mul(probe).sum().backward();
            var (weightGrad, inputGrad) = (layer.Weight.grad!.clone(), x.grad!.clone());
            layer.Weight.grad = null;

            var unread = input.clone().requires_grad_();
            var y = UnreadLinear.Apply(unread, layer);
            Assert.Equal(new long[] { 2, 7, 10 }, y.shape);
            y.backward(new[] { probe });
            TensorAssert.Close(layer.Weight.grad!, weightGrad, 1e-6, "weight");
            TensorAssert.Close(unread.grad!, inputGrad, 1e-6, "input");
        }

        [Fact]
        public void GradientsAddToWhatTheParametersAlreadyHold()
        {
            using var scope = NewDisposeScope();
            var gate = new LinearLayer(8, 12, false, CPU, ScalarType.Float32);
            var up = new LinearLayer(8, 12, false, CPU, ScalarType.Float32);
            var down = new LinearLayer(12, 8, false, CPU, ScalarType.Float32);
            var input = randn(1, 9, 8).requires_grad_();
            SwiGlu.Apply(input, gate, up, down, new MlpTiling(AutoCount.Of(2))).sum().backward();
            var once = gate.Weight.grad!.clone();
            SwiGlu.Apply(input, gate, up, down, new MlpTiling(AutoCount.Of(4))).sum().backward();
            TensorAssert.Close(gate.Weight.grad!, once.mul(2), 1e-6, "accumulated gradient");
        }

        [Theory]
        [InlineData(8192, 11008, 1)]
        [InlineData(32768, 11008, 1)]
        [InlineData(262144, 11008, 6)]
        [InlineData(524288, 5632, 6)]
        public void AutoKeepsEachTilesIntermediatesWithinAGibibyteInBFloat16(long tokens, long intermediate, int tiles) =>
            Assert.Equal(tiles, new MlpTiling(AutoCount.Auto).For(tokens, intermediate, ScalarType.BFloat16));

        [Fact]
        public void NeverMoreTilesThanTokens() =>
            Assert.Equal(5, new MlpTiling(AutoCount.Of(64)).For(5, 100, ScalarType.Float32));
    }
}
