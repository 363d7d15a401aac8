using System;
using System.Linq;
using TorchSharp;
using XTuner.Core.Configuration;
using XTuner.Training.Models;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Models
{
    [Collection(GlobalGeneratorCollection.Name)]
    public class DecoderModelTests
    {
        [Theory]
        [InlineData(ModelArchitecture.Llama, true, "model.layers.1.self_attn.o_proj.bias", "lm_head.weight")]
        [InlineData(ModelArchitecture.Mistral, false, "model.layers.0.mlp.down_proj.weight", "lm_head.weight")]
        [InlineData(ModelArchitecture.Qwen2, false, "model.layers.0.self_attn.k_proj.bias", "lm_head.weight")]
        [InlineData(ModelArchitecture.InternLM2, true, "model.layers.1.attention.wqkv.bias", "model.layers.0.attention.wo.bias", "model.tok_embeddings.weight", "output.weight", "model.layers.0.feed_forward.w3.weight", "model.layers.0.ffn_norm.weight")]
        [InlineData(ModelArchitecture.Cohere, false, "model.layers.0.self_attn.q_norm.weight", "model.layers.1.self_attn.k_norm.weight", "model.embed_tokens.weight")]
        public void StateDictCarriesTheCheckpointNamesAndTheSpecCount(ModelArchitecture architecture, bool bias, params string[] names)
        {
            var spec = TinySpecs.For(architecture, bias);
            using var model = new DecoderModel(spec, META);
            var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
            Assert.All(names, name => Assert.Contains(name, parameters.Keys));
            Assert.Equal(spec.ParameterCount, model.parameters().Sum(p => p.numel()));
            Assert.Equal(model.state_dict().Keys.OrderBy(k => k), parameters.Keys.OrderBy(k => k));
        }

        [Fact]
        public void Qwen2HasNoOutputProjectionBiasAndCohereNoSeparateHead()
        {
            using var qwen2 = new DecoderModel(TinySpecs.For(ModelArchitecture.Qwen2), META);
            Assert.DoesNotContain(qwen2.named_parameters(), p => p.name.Contains("o_proj.bias"));
            using var cohere = new DecoderModel(TinySpecs.For(ModelArchitecture.Cohere), META);
            Assert.DoesNotContain(cohere.named_parameters(), p => p.name.StartsWith("lm_head") || p.name.Contains("post_attention_layernorm"));
            Assert.Equal(new long[] { 4, 8 }, cohere.named_parameters().Single(p => p.name == "model.layers.0.self_attn.q_norm.weight").parameter.shape);
            Assert.Equal(0.25, cohere.LogitScale);
        }

        [Fact]
        public void InitialisesLikeTransformersFromTheTorchSeed()
        {
            using var scope = NewDisposeScope();
            manual_seed(1);
            using var first = new DecoderModel(TinySpecs.For(ModelArchitecture.Qwen2));
            manual_seed(1);
            using var second = new DecoderModel(TinySpecs.For(ModelArchitecture.Qwen2));
            foreach (var ((name, a), (_, b)) in first.named_parameters().Zip(second.named_parameters()))
            {
                TensorAssert.Equal(a, b, name);
                if (name.EndsWith("norm.weight"))
                    Assert.Equal(0, a.ne(1).sum().item<long>());
                else if (name.EndsWith(".bias"))
                    Assert.Equal(0, a.ne(0).sum().item<long>());
                else
                    Assert.InRange(a.std().item<float>(), 0.017, 0.023);
            }
        }

        [Fact]
        public void EarlierPositionsDoNotSeeLaterTokens()
        {
            using var scope = NewDisposeScope();
            manual_seed(2);
            using var model = new DecoderModel(TinySpecs.For(ModelArchitecture.Llama));
            var (inputIds, positions, _) = ModelRun.Batch(64);
            using var noGrad = no_grad();
            var before = model.Forward(inputIds, positions);
            var changed = inputIds.clone();
            changed[.., 10..] = changed[.., 10..].add(1).remainder(64);
            var after = model.Forward(changed, positions);
            TensorAssert.Close(after[.., ..10], before[.., ..10], 1e-6, "prefix");
            Assert.True(after[.., 10..].sub(before[.., 10..]).abs().max().item<float>() > 1e-3);
        }

        [Fact]
        public void DynamicNtkFollowsTheStatedGlobalSequenceLength()
        {
            using var scope = NewDisposeScope();
            manual_seed(3);
            using var model = new DecoderModel(TinySpecs.For(ModelArchitecture.Llama, ropeScaling: new RopeScaling { RopeType = RopeType.Dynamic, Factor = 2 }));
            var inputIds = arange(0, 16, ScalarType.Int64).unsqueeze(0);
            using var noGrad = no_grad();
            // A chunk at positions 100..115 of a 256-token sequence: max(position)+1 alone would say 116.
            var positions = arange(100, 116, ScalarType.Int64).unsqueeze(0);
            var local = model.Forward(inputIds, positions);
            TensorAssert.Close(model.Forward(inputIds, positions, 116), local, 0, "max(position)+1");
            var global = model.Forward(inputIds, positions, 256);
            Assert.True(global.sub(local).abs().max().item<float>() > 1e-4);
            // Within max_position_embeddings (64) the plain frequencies apply whatever the positions.
            var early = arange(0, 16, ScalarType.Int64).unsqueeze(0);
            TensorAssert.Close(model.Forward(inputIds, early, 64), model.Forward(inputIds, early), 0, "short sequence");
        }

        [Fact]
        public void RejectsInputsOfDifferentShapes()
        {
            using var scope = NewDisposeScope();
            using var model = new DecoderModel(TinySpecs.For(ModelArchitecture.Llama));
            var error = Assert.Throws<ArgumentException>(() => model.Forward(zeros(2, 8, ScalarType.Int64), zeros(2, 7, ScalarType.Int64)));
            Assert.Contains("[2, 8]", error.Message);
        }

        [Fact]
        public void RejectsSpecsWithoutTheirSizes()
        {
            var error = Assert.Throws<ArgumentException>(() => new DecoderModel(new ModelSpec { Architecture = ModelArchitecture.Llama, HiddenSize = 32 }));
            Assert.Contains("intermediate_size", error.Message);
            Assert.Contains("vocab_size", error.Message);
        }

        [Fact]
        public void TrainingStepsLeaveNoTensorsBehind()
        {
            manual_seed(4);
            using var model = new DecoderModel(TinySpecs.For(ModelArchitecture.Cohere)) { ActivationCheckpointing = true };
            var (inputIds, positions, labels) = ModelRun.Batch(64);
            long? live = null;
            for (var step = 0; step < 4; step++)
            {
                using (var scope = NewDisposeScope())
                {
                    var hidden = model.Forward(inputIds, positions);
                    var targets = LanguageModelLoss.ShiftTargets(labels).reshape(-1);
                    LanguageModelLoss.Sum(hidden.reshape(-1, 32), model.LmHeadWeight, targets, model.LogitScale, 8).backward();
                }
                // Step 0 creates the .grad tensors and the hand-off of the last backward; later steps must add nothing.
                var now = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
                if (step > 0)
                    Assert.Equal(live, now);
                live = now;
            }
        }
    }
}
