using System.Linq;
using XTuner.Core.Configuration;
using XTuner.Training.Models;
using XTuner.Training.Models.Attention;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Models
{
    /// <summary>Recomputing layers in backward gives the same loss and every gradient as keeping activations.</summary>
    public class ActivationCheckpointingTests
    {
        [Theory]
        [InlineData(ModelArchitecture.Llama, false)]
        [InlineData(ModelArchitecture.Qwen2, false)]
        [InlineData(ModelArchitecture.InternLM2, true)]
        [InlineData(ModelArchitecture.Cohere, true)]
        public void SameLossAndGradientsAsWithoutCheckpointing(ModelArchitecture architecture, bool bias)
        {
            using var scope = NewDisposeScope();
            manual_seed(3);
            var model = new DecoderModel(TinySpecs.For(architecture, bias));
            var (inputIds, positions, labels) = ModelRun.Batch(64);

            var kernel = new CountingKernel();
            model.AttentionKernel = kernel;

            var (plainLoss, plainGradients) = ModelRun.LossAndGradients(model, inputIds, positions, labels);
            Assert.Equal(2, kernel.Calls);
            model.ActivationCheckpointing = true;
            var (loss, gradients) = ModelRun.LossAndGradients(model, inputIds, positions, labels);
            Assert.Equal(2 + 4, kernel.Calls); // each layer ran again in backward

            Assert.Equal(plainLoss.item<float>(), loss.item<float>(), 6);
            Assert.Equal(plainGradients.Keys, gradients.Keys);
            foreach (var (name, gradient) in plainGradients)
                TensorAssert.Close(gradients[name], gradient, 1e-6, name);
        }

        [Theory]
        [InlineData(ModelArchitecture.Llama, 1)]
        [InlineData(ModelArchitecture.Llama, 3)]
        [InlineData(ModelArchitecture.InternLM2, 3)]
        [InlineData(ModelArchitecture.Cohere, 3)]
        public void TheRecomputeLeavingTheMlpsOutputUnreadGivesTheSameGradients(ModelArchitecture architecture, int tiles)
        {
            // A recompute's output is only back-propagated: the down projection (and a tiled MLP's forward) is not computed.
            using var scope = NewDisposeScope();
            manual_seed(4);
            var model = new DecoderModel(TinySpecs.For(architecture, architecture != ModelArchitecture.Llama));
            var (inputIds, positions, labels) = ModelRun.Batch(64);
            var (plainLoss, plainGradients) = ModelRun.LossAndGradients(model, inputIds, positions, labels);

            model.MlpTiling = new MlpTiling(AutoCount.Of(tiles));
            model.ActivationCheckpointing = true;
            var (loss, gradients) = ModelRun.LossAndGradients(model, inputIds, positions, labels);
            Assert.Equal(plainLoss.item<float>(), loss.item<float>(), 6);
            foreach (var (name, gradient) in plainGradients)
                TensorAssert.Close(gradients[name], gradient, 1e-6, name);
        }

        [Fact]
        public void ALayerCountRecomputesOnlyTheFirstLayers()
        {
            using var scope = NewDisposeScope();
            manual_seed(5);
            var model = new DecoderModel(TinySpecs.For(ModelArchitecture.Llama));
            var (inputIds, positions, labels) = ModelRun.Batch(64);
            var (plainLoss, plainGradients) = ModelRun.LossAndGradients(model, inputIds, positions, labels);

            var kernel = new CountingKernel();
            model.AttentionKernel = kernel;
            model.ActivationCheckpointing = LayerCount.Of(1);
            var (loss, gradients) = ModelRun.LossAndGradients(model, inputIds, positions, labels);
            Assert.Equal(2 + 1, kernel.Calls); // only the first of the two layers ran again in backward
            Assert.Equal(plainLoss.item<float>(), loss.item<float>(), 6);
            foreach (var (name, gradient) in plainGradients)
                TensorAssert.Close(gradients[name], gradient, 1e-6, name);
        }

        [Theory]
        [InlineData(ModelArchitecture.Llama, false)]
        [InlineData(ModelArchitecture.Qwen2, false)]
        [InlineData(ModelArchitecture.InternLM2, true)]
        [InlineData(ModelArchitecture.Cohere, true)]
        public void KeptAttentionGivesTheSameLossAndGradientsWithoutRerunningAttention(ModelArchitecture architecture, bool bias)
        {
            using var scope = NewDisposeScope();
            manual_seed(6);
            var model = new DecoderModel(TinySpecs.For(architecture, bias));
            var (inputIds, positions, labels) = ModelRun.Batch(64);
            model.ActivationCheckpointing = true;
            var (recomputedLoss, recomputedGradients) = ModelRun.LossAndGradients(model, inputIds, positions, labels);

            var kernel = new CountingKernel();
            model.AttentionKernel = kernel;
            model.RecomputeAttention = false;
            var (loss, gradients) = ModelRun.LossAndGradients(model, inputIds, positions, labels);
            Assert.Equal(2, kernel.Calls); // attention ran in the forward only; the two layers' recompute reused it
            Assert.Equal(recomputedLoss.item<float>(), loss.item<float>());
            Assert.Equal(recomputedGradients.Keys, gradients.Keys);
            foreach (var (name, gradient) in recomputedGradients)
                Assert.True(gradients[name].eq(gradient).all().item<bool>(), $"{name} differs from the recompute that reruns attention");

            // The first N checkpointed layers rerun it; a second step (the kept graph was let go) is the same again.
            kernel.Calls = 0;
            model.RecomputeAttention = LayerCount.Of(1);
            var (again, againGradients) = ModelRun.LossAndGradients(model, inputIds, positions, labels);
            Assert.Equal(2 + 1, kernel.Calls);
            Assert.Equal(recomputedLoss.item<float>(), again.item<float>());
            foreach (var (name, gradient) in recomputedGradients)
                Assert.True(againGradients[name].eq(gradient).all().item<bool>(), name);
        }

        [Fact]
        public void ALayerWhoseInputNeedsNoGradientRunsPlainly()
        {
            using var scope = NewDisposeScope();
            manual_seed(4);
            var model = new DecoderModel(TinySpecs.For(ModelArchitecture.Llama));
            var (inputIds, positions, labels) = ModelRun.Batch(64);
            var (_, expected) = ModelRun.LossAndGradients(model, inputIds, positions, labels);

            // A frozen embedding leaves the first layer's input without grad: that layer must run plainly or its
            // parameters would get no gradient; the second layer's input requires grad again and is checkpointed.
            model.named_parameters().Single(p => p.name == "model.embed_tokens.weight").parameter.requires_grad = false;
            model.ActivationCheckpointing = true;
            var kernel = new CountingKernel();
            model.AttentionKernel = kernel;
            var (_, gradients) = ModelRun.LossAndGradients(model, inputIds, positions, labels);
            Assert.Equal(3, kernel.Calls);
            foreach (var (name, gradient) in gradients)
                TensorAssert.Close(gradient, expected[name], 1e-6, name);
        }
    
        private sealed class CountingKernel : IAttentionKernel
        {
            private readonly LocalCausalAttention _inner = new LocalCausalAttention();

            public int Calls { get; set; }

            public Tensor Attend(Tensor q, Tensor k, Tensor v, AttentionMask mask)
            {
                Calls++;
                return _inner.Attend(q, k, v, mask);
            }
        }
    }
}
