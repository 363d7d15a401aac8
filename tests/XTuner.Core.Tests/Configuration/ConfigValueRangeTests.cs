using System;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using XTuner.Core;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using Xunit;

namespace XTuner.Core.Tests.Configuration
{
    /// <summary>Values that would crash a rank (a division by zero, an index past the embedding) or train nothing, refused before launch.</summary>
    public sealed class ConfigValueRangeTests
    {
        private static readonly string Here = Directory.GetCurrentDirectory();

        private static ConfigFinding[] Errors(XTunerConfig c) =>
            ConfigValidator.Validate(c, Here).Where(f => f.Severity == FindingSeverity.Error).ToArray();

        private static XTunerConfig Tiny(string option)
        {
            var c = ConfigCatalogue.Get("tiny-llama");
            ConfigYaml.SetOption(c, option.Split('=')[0], option.Split('=')[1]);
            return c;
        }

        [Theory]
        [InlineData("model.num_attention_heads=0", "model.num_attention_heads must be 1 or more, not 0.")]
        [InlineData("model.vocab_size=0", "model.vocab_size must be 1 or more, not 0.")]
        [InlineData("model.num_hidden_layers=0", "model.num_hidden_layers must be 1 or more, not 0.")]
        [InlineData("model.hidden_size=-128", "model.hidden_size must be 1 or more, not -128.")]
        [InlineData("model.intermediate_size=0", "model.intermediate_size must be 1 or more, not 0.")]
        [InlineData("model.num_key_value_heads=0", "model.num_key_value_heads must be 1 or more, not 0.")]
        [InlineData("model.head_dim=0", "model.head_dim must be 1 or more, not 0.")]
        [InlineData("model.max_position_embeddings=0", "model.max_position_embeddings must be 1 or more, not 0.")]
        [InlineData("model.head_dim=15", "The per-head width is 15; rotary embeddings turn pairs of dimensions, so it must be even.")]
        [InlineData("model.rope_theta=0", "model.rope_theta must be a number above 0, not 0.0.")]
        [InlineData("model.logit_scale=-1", "model.logit_scale must be a number above 0, not -1.0.")]
        [InlineData("gpu_memory_budget_gib=0", "gpu_memory_budget_gib must be a number of GiB above 0 (e.g. 37), or removed to plan in the GPU's free memory; not 0.0.")]
        public void A_value_out_of_range_is_refused_with_what_to_change(string option, string message)
        {
            var errors = Errors(Tiny(option));
            Assert.Contains(errors, e => e.Message == message);
            Assert.All(errors, e => Assert.Equal(ErrorIds.InvalidConfigValue, e.ErrorId));
        }

        /// <summary>YAML refuses .nan and .inf already; an object built in code (or by PowerShell) can still hold them.</summary>
        [Theory]
        [InlineData("lr", "lr must be a number above 0, not ")]
        [InlineData("weight_decay", "weight_decay must be a number, 0 or more.")]
        [InlineData("warmup_ratio", "warmup_ratio must be in [0, 1), not ")]
        [InlineData("max_norm", "max_norm must be a number, 0 (no clipping) or more.")]
        [InlineData("betas", "betas must be two numbers in [0, 1), e.g. [0.9, 0.95].")]
        [InlineData("model.norm_eps", "model.norm_eps must be a number above 0, not ")]
        public void A_number_that_is_not_a_number_is_refused(string key, string message)
        {
            foreach (var x in new[] { double.NaN, double.PositiveInfinity })
            {
                var c = ConfigCatalogue.Get("tiny-llama");
                switch (key)
                {
                    case "lr": c.Lr = x; break;
                    case "weight_decay": c.WeightDecay = x; break;
                    case "warmup_ratio": c.WarmupRatio = x; break;
                    case "max_norm": c.MaxNorm = x; break;
                    case "betas": c.Betas = new System.Collections.Generic.List<double> { x, 0.9 }; break;
                    default: c.Model.NormEps = x; break;
                }
                Assert.Contains(Errors(c), e => e.Key == key && e.Message.StartsWith(message, StringComparison.Ordinal));
            }
        }

        [Theory]
        [InlineData("{rope_type: linear}", "rope_scaling of type linear needs a factor of 1 or more (how many times the original context), not none.")]
        [InlineData("{rope_type: linear, factor: 0.5}", "rope_scaling of type linear needs a factor of 1 or more (how many times the original context), not 0.5.")]
        [InlineData("{rope_type: llama3, factor: 8, low_freq_factor: 4, high_freq_factor: 1}", "rope_scaling.high_freq_factor (1.0) must be above low_freq_factor (4.0).")]
        [InlineData("{rope_type: yarn, factor: 4, beta_fast: 1, beta_slow: 32}", "rope_scaling.beta_fast (1.0) must be above beta_slow (32.0).")]
        [InlineData("{rope_type: yarn, factor: 4, original_max_position_embeddings: 0}", "rope_scaling.original_max_position_embeddings must be 1 or more, not 0.")]
        public void Rope_scaling_that_cannot_scale_is_refused(string scaling, string message)
        {
            var c = ConfigCatalogue.Get("tiny-llama");
            ConfigYaml.SetOption(c, "model.rope_scaling", scaling);
            Assert.Contains(Errors(c), e => e.Message == message);
        }

        [Fact]
        public void A_zero_in_the_checkpoints_config_json_is_refused_and_named_as_its()
        {
            var dir = TempDir.Create();
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "data", "hf-configs", "tiny-llama", "config.json")))!;
            json["num_attention_heads"] = 0;
            File.WriteAllText(Path.Combine(dir, "config.json"), json.ToJsonString());
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), "{}");
            var c = new XTunerConfig { PretrainedModelNameOrPath = dir, DataFiles = { "builtin:alpaca-sample" }, MaxLength = 512 };
            Assert.Contains(Errors(c), e => e.Message == "model.num_attention_heads must be 1 or more, not 0 (from the checkpoint's config.json).");
        }

        [Fact]
        public void A_tokenizer_with_more_ids_than_the_models_vocabulary_is_refused_before_launch()
        {
            var byteTokens = Tiny("model.vocab_size=200");
            var e = Assert.Single(Errors(byteTokens));
            Assert.Equal(ErrorIds.ModelMismatch, e.ErrorId);
            Assert.Equal("tokenizer", e.Key);
            Assert.Equal("The tokenizer byte hands out 259 ids but the model's vocab_size is 200: ids 200 and up would index past the embedding. " +
                         "Use the model's own tokenizer, or (with random_init) set model.vocab_size to 259 or more.", e.Message);

            var dir = TempDir.Create();
            var tokenizer = Path.Combine(dir, "tokenizer.json");
            File.WriteAllText(tokenizer, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 299}}, \"added_tokens\": [{\"id\": 511, \"content\": \"<eos>\"}]}");
            var json = Tiny("tokenizer=" + tokenizer);
            Assert.Contains(Errors(json), f => f.ErrorId == ErrorIds.ModelMismatch && f.Message.Contains($"The tokenizer {tokenizer} hands out 512 ids but the model's vocab_size is 320"));
            ConfigYaml.SetOption(json, "model.vocab_size", "512");
            Assert.DoesNotContain(Errors(json), f => f.ErrorId == ErrorIds.ModelMismatch);
        }

        [Fact]
        public void Every_catalogue_recipe_passes_the_ranges() =>
            Assert.All(ConfigCatalogue.Names, name => Assert.Empty(Errors(ConfigCatalogue.Get(name))));
    }
}
