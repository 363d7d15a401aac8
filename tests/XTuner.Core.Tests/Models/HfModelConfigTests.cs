using System;
using System.IO;
using System.Linq;
using XTuner.Core.Configuration;
using XTuner.Core.Models;
using Xunit;

namespace XTuner.Core.Tests.Models
{
    public class HfModelConfigTests
    {
        private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "data", "hf-configs", name);

        [Fact]
        public void Transformers4And5StylesReadTheSame()
        {
            var v5 = HfModelConfig.Read(Fixture("tiny-llama"));
            var v4 = HfModelConfig.Read(Fixture("tiny-llama-v4config"));
            foreach (var field in ConfigSchema.Root.Find("model")!.Section!.Fields)
                Assert.Equal(field.GetValue(v5)?.ToString(), field.GetValue(v4)?.ToString());
            Assert.Equal(ModelArchitecture.Llama, v5.Architecture);
            Assert.Equal(4, v5.NumAttentionHeads);
            Assert.Equal(2, v5.NumKeyValueHeads);
            Assert.Equal(16, v5.EffectiveHeadDim);
            Assert.Equal(10000.0, v5.RopeTheta);
            Assert.Null(v5.RopeScaling);
            Assert.False(v5.TieWordEmbeddings);
            Assert.Equal(1e-6, v5.NormEps);
        }

        [Fact]
        public void ReadsQwen2AndCohereSpecifics()
        {
            var qwen = HfModelConfig.Read(Fixture("tiny-qwen2"));
            Assert.Equal(ModelArchitecture.Qwen2, qwen.Architecture);
            Assert.True(qwen.AttentionBias);
            Assert.True(qwen.TieWordEmbeddings);
            Assert.Equal(1e6, qwen.RopeTheta);
            Assert.Equal(1, qwen.NumKeyValueHeads);

            var cohere = HfModelConfig.Read(Fixture("tiny-cohere-qknorm"));
            Assert.Equal(ModelArchitecture.Cohere, cohere.Architecture);
            Assert.True(cohere.UseQkNorm);
            Assert.Equal(0.0625, cohere.LogitScale);
            Assert.Equal(1e-5, cohere.NormEps);
            Assert.True(cohere.TieWordEmbeddings);
        }

        [Fact]
        public void RopeScalingOfBothStylesIsRead()
        {
            var v4 = HfModelConfig.Parse("{\"model_type\":\"llama\",\"max_position_embeddings\":8192,\"rope_theta\":500000.0,\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192}}");
            Assert.Equal(RopeType.Llama3, v4.RopeScaling!.RopeType);
            Assert.Equal(65536, v4.SupportedPositions);
            var v5 = HfModelConfig.Parse("{\"model_type\":\"internlm2\",\"max_position_embeddings\":32768,\"rope_parameters\":{\"rope_type\":\"dynamic\",\"rope_theta\":1000000.0,\"factor\":2.0}}");
            Assert.Equal(RopeType.Dynamic, v5.RopeScaling!.RopeType);
            Assert.Equal(1e6, v5.RopeTheta);
            var old = HfModelConfig.Parse("{\"model_type\":\"llama\",\"rope_scaling\":{\"type\":\"linear\",\"factor\":4.0}}");
            Assert.Equal(RopeType.Linear, old.RopeScaling!.RopeType);
        }

        [Fact]
        public void WrittenConfigReadsBackAsTheSameSpec()
        {
            foreach (var name in new[] { "tiny-llama", "tiny-qwen2", "tiny-cohere-qknorm" })
            {
                var spec = HfModelConfig.Read(Fixture(name));
                var again = HfModelConfig.Parse(HfModelConfig.Write(spec, 1, 2));
                foreach (var field in ConfigSchema.Root.Find("model")!.Section!.Fields)
                    Assert.Equal(field.GetValue(spec)?.ToString(), field.GetValue(again)?.ToString());
            }
        }

        [Fact]
        public void SlidingWindowsAreReadAsEachFamilyDefinesThem()
        {
            var mistral = HfModelConfig.Parse("{\"model_type\":\"mistral\",\"num_hidden_layers\":4,\"sliding_window\":16}");
            Assert.Equal(new int?[] { 16, 16, 16, 16 }, Enumerable.Range(0, 4).Select(mistral.WindowOf));
            var unwindowed = HfModelConfig.Parse("{\"model_type\":\"mistral\",\"num_hidden_layers\":2,\"sliding_window\":null}");
            Assert.All(Enumerable.Range(0, 2).Select(unwindowed.WindowOf), w => Assert.Null(w));
            // Qwen2: the first max_window_layers layers attend in full, the later ones in the window; only with use_sliding_window.
            var qwen = HfModelConfig.Parse("{\"model_type\":\"qwen2\",\"num_hidden_layers\":4,\"use_sliding_window\":true,\"sliding_window\":8,\"max_window_layers\":2}");
            Assert.Equal(new int?[] { null, null, 8, 8 }, Enumerable.Range(0, 4).Select(qwen.WindowOf));
            var off = HfModelConfig.Parse("{\"model_type\":\"qwen2\",\"num_hidden_layers\":2,\"use_sliding_window\":false,\"sliding_window\":8,\"max_window_layers\":0}");
            Assert.All(Enumerable.Range(0, 2).Select(off.WindowOf), w => Assert.Null(w));
            // layer_types, where config.json has it, decides (transformers follows it); max_window_layers defaults to 28.
            var typed = HfModelConfig.Parse("{\"model_type\":\"qwen2\",\"num_hidden_layers\":4,\"use_sliding_window\":true,\"sliding_window\":8,\"max_window_layers\":28," +
                "\"layer_types\":[\"full_attention\",\"sliding_attention\",\"sliding_attention\",\"sliding_attention\"]}");
            Assert.Equal(new int?[] { null, 8, 8, 8 }, Enumerable.Range(0, 4).Select(typed.WindowOf));
            var defaulted = HfModelConfig.Parse("{\"model_type\":\"qwen2\",\"num_hidden_layers\":30,\"use_sliding_window\":true,\"sliding_window\":8}");
            Assert.Equal(Enumerable.Repeat((int?)null, 28).Concat(new int?[] { 8, 8 }), Enumerable.Range(0, 30).Select(defaulted.WindowOf));
            // A layout max_window_layers cannot say is refused, never trained with other windows.
            var e = Assert.Throws<System.IO.InvalidDataException>(() => HfModelConfig.Parse("{\"model_type\":\"qwen2\",\"num_hidden_layers\":2,\"use_sliding_window\":true,\"sliding_window\":8," +
                "\"layer_types\":[\"sliding_attention\",\"full_attention\"]}"));
            Assert.Contains("layer_types [sliding_attention, full_attention] is not supported", e.Message);
            foreach (var spec in new[] { mistral, qwen, typed })
            {
                var again = HfModelConfig.Parse(HfModelConfig.Write(spec));
                Assert.Equal(Enumerable.Range(0, 4).Select(spec.WindowOf), Enumerable.Range(0, 4).Select(again.WindowOf));
            }
        }

        [Fact]
        public void UnsupportedModelTypesAreNamed()
        {
            var e = Assert.Throws<InvalidDataException>(() => HfModelConfig.Parse("{\"model_type\":\"gpt2\"}", "x/config.json"));
            Assert.Contains("'gpt2'", e.Message);
            Assert.Contains("llama", e.Message);
        }

        [Fact]
        public void ParameterCountOfLlama2_7BIsItsPublishedSize()
        {
            var spec = Catalogue.ConfigCatalogue.Get("llama2-7b-full-8k-sp1").Model;
            Assert.Equal(6_738_415_616L, spec.ParameterCount);
        }

        [Fact]
        public void HubIdsAreFoundInTheHuggingFaceCache()
        {
            var hub = TempDir.Create();
            var snapshot = Path.Combine(hub, "models--org--tiny", "snapshots", "abc123");
            Directory.CreateDirectory(snapshot);
            Directory.CreateDirectory(Path.Combine(hub, "models--org--tiny", "refs"));
            File.WriteAllText(Path.Combine(hub, "models--org--tiny", "refs", "main"), "abc123");
            var old = Environment.GetEnvironmentVariable("HF_HUB_CACHE");
            try
            {
                Environment.SetEnvironmentVariable("HF_HUB_CACHE", hub);
                Assert.Equal(snapshot, HfCheckpointLocator.Find("org/tiny"));
                Assert.Null(HfCheckpointLocator.Find("org/other"));
                Assert.Null(HfCheckpointLocator.Find("./org/tiny"));
            }
            finally
            {
                Environment.SetEnvironmentVariable("HF_HUB_CACHE", old);
            }
        }
    }
}
