using XTuner.Core.Configuration;
using XTuner.Training.Models;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Models
{
    /// <summary>Checkpointed layers do not keep TorchSharp's activation-sized output placeholders.</summary>
    public class AutogradOutputCacheTests
    {
        [Fact]
        public void TheTorchSharpInternalsItReliesOnExist() => Assert.True(AutogradOutputCache.Supported);

        [Fact]
        public void CheckpointedLayersHoldNoOutputPlaceholders()
        {
            using var scope = NewDisposeScope();
            var model = new DecoderModel(TinySpecs.For(ModelArchitecture.Llama, false)) { ActivationCheckpointing = true };
            var ids = randint(0, 32, new long[] { 1, 16 });
            var positions = arange(16).unsqueeze(0);
            var hidden = model.Forward(ids, positions);
            Assert.Equal(0, AutogradOutputCache.Held<LayerCheckpoint>());
            model.Logits(hidden).sum().backward();
            Assert.All(model.parameters(), p => Assert.NotNull(p.grad));
        }
    }
}
