using System.Collections.Generic;
using System.Linq;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Training.Models;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Models
{
    /// <summary>Real model sizes built on the meta device (no memory): every parameter name and shape, and the counts.</summary>
    public class ModelShapeTests
    {
        [Fact]
        public void Llama2_7BHasTransformersParameterNamesAndShapes()
        {
            var spec = ConfigCatalogue.Get("llama2-7b-full-8k-sp1").Model;
            AssertLlamaShapes(spec, layers: 32, hidden: 4096, intermediate: 11008, keyValueWidth: 4096, vocab: 32000);
            Assert.Equal(6_738_415_616, spec.ParameterCount);
        }

        [Fact]
        public void Llama2_70BHasTransformersParameterNamesAndShapes()
        {
            var spec = ConfigCatalogue.Get("llama2-70b-full-32k-sp4").Model;
            AssertLlamaShapes(spec, layers: 80, hidden: 8192, intermediate: 28672, keyValueWidth: 1024, vocab: 32000);
            Assert.Equal(68_976_648_192, spec.ParameterCount);
        }

        [Theory]
        [InlineData("qwen2-7b-full-128k-sp8", 7_615_616_512)]
        [InlineData("internlm2-7b-full-32k-sp4", 7_737_708_544)]
        [InlineData("command-r-plus-full-128k-sp32", 103_810_674_688)]
        public void ParameterCountMatchesTheBuiltModel(string config, long published)
        {
            var spec = ConfigCatalogue.Get(config).Model;
            using var model = new DecoderModel(spec, META, ScalarType.BFloat16);
            Assert.Equal(published, model.parameters().Sum(p => p.numel()));
            Assert.Equal(published, spec.ParameterCount);
        }

        private static void AssertLlamaShapes(ModelSpec spec, int layers, long hidden, long intermediate, long keyValueWidth, long vocab)
        {
            using var model = new DecoderModel(spec, META, ScalarType.BFloat16);
            var expected = new Dictionary<string, long[]>
            {
                ["model.embed_tokens.weight"] = new[] { vocab, hidden },
                ["model.norm.weight"] = new[] { hidden },
                ["lm_head.weight"] = new[] { vocab, hidden },
            };
            for (var i = 0; i < layers; i++)
            {
                var layer = $"model.layers.{i}.";
                expected[layer + "input_layernorm.weight"] = new[] { hidden };
                expected[layer + "post_attention_layernorm.weight"] = new[] { hidden };
                expected[layer + "self_attn.q_proj.weight"] = new[] { hidden, hidden };
                expected[layer + "self_attn.k_proj.weight"] = new[] { keyValueWidth, hidden };
                expected[layer + "self_attn.v_proj.weight"] = new[] { keyValueWidth, hidden };
                expected[layer + "self_attn.o_proj.weight"] = new[] { hidden, hidden };
                expected[layer + "mlp.gate_proj.weight"] = new[] { intermediate, hidden };
                expected[layer + "mlp.up_proj.weight"] = new[] { intermediate, hidden };
                expected[layer + "mlp.down_proj.weight"] = new[] { hidden, intermediate };
            }
            var actual = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            Assert.Equal(expected.Keys.OrderBy(k => k), actual.Keys.OrderBy(k => k));
            foreach (var (name, shape) in expected)
            {
                Assert.Equal(shape, actual[name].shape);
                Assert.True(actual[name].is_meta, name);
            }
            Assert.Equal(spec.ParameterCount, actual.Values.Sum(p => p.numel()));
        }
    }
}
