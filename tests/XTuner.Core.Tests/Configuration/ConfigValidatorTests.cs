using System;
using System.IO;
using System.Linq;
using XTuner.Core;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using Xunit;

namespace XTuner.Core.Tests.Configuration
{
    public class ConfigValidatorTests
    {
        private static readonly string Here = Directory.GetCurrentDirectory();

        private static ConfigFinding[] Errors(XTunerConfig c, string? baseDir = null) =>
            ConfigValidator.Validate(c, baseDir ?? Here).Where(f => f.Severity == FindingSeverity.Error).ToArray();

        public static TheoryData<string> CatalogueNames() => ConfigYamlTests.CatalogueNames();

        [Theory]
        [MemberData(nameof(CatalogueNames))]
        public void EveryCatalogueEntryIsValid(string name)
        {
            var config = ConfigCatalogue.Get(name);
            Assert.Empty(Errors(config));
            Assert.False(string.IsNullOrEmpty(config.Description));
            Assert.Equal(name, config.Name);
            Assert.True(config.WorldSize >= config.SequenceParallelSize);
            if (!name.StartsWith("tiny", StringComparison.Ordinal))
            {
                Assert.Contains("/", config.PretrainedModelNameOrPath);
                Assert.Contains($"sized for {config.WorldSize} GPUs", config.Description);
                Assert.Equal(3, config.ZeroStage);
            }
        }

        [Fact]
        public void CatalogueHoldsXTunersLongContextRecipes()
        {
            foreach (var name in new[]
                     {
                         "tiny-llama", "tiny-llama-sp2",
                         "llama2-7b-full-8k-sp1", "llama2-7b-full-32k-sp1", "llama2-7b-full-128k-sp8", "llama2-7b-full-256k-sp8", "llama2-7b-full-1m-sp16",
                         "yi-34b-200k-full-32k-sp2", "yi-34b-200k-full-128k-sp8", "yi-34b-200k-full-256k-sp8",
                         "llama2-70b-full-32k-sp4", "llama2-70b-full-128k-sp8", "llama2-70b-full-256k-sp16", "llama2-70b-full-1m-sp64",
                         "internlm2-7b-full-32k-sp4", "qwen2-7b-full-128k-sp8", "command-r-plus-full-128k-sp32",
                     })
                Assert.True(ConfigCatalogue.Contains(name), name);
            var tiny = ConfigCatalogue.Get("tiny-llama");
            Assert.Equal(8, tiny.Model.NumAttentionHeads);
            Assert.True(tiny.Model.NumKeyValueHeads < 8);
            Assert.Equal("byte", tiny.Tokenizer);
            Assert.Equal(DeviceKind.Cpu, tiny.Device);
            Assert.Equal(2, ConfigCatalogue.Get("tiny-llama-sp2").SequenceParallelSize);
        }

        [Fact]
        public void CatalogueNamesAreOneStyle() =>
            Assert.All(ConfigCatalogue.Names, n => Assert.Matches("^[a-z0-9]+(-[a-z0-9]+)*$", n));

        [Fact]
        public void WildcardsFindEntries()
        {
            Assert.Equal(5, ConfigCatalogue.Find("llama2-7b*").Count());
            Assert.All(ConfigCatalogue.Find("*SP8"), c => Assert.Equal(8, c.SequenceParallelSize));
            Assert.Empty(ConfigCatalogue.Find("nothing*"));
        }

        [Fact]
        public void UnknownCatalogueNameSuggestsTheClosest()
        {
            var e = Assert.Throws<XTunerConfigException>(() => ConfigCatalogue.Get("tiny-lama"));
            Assert.Equal(ErrorIds.ConfigNotFound, e.ErrorId);
            Assert.Contains("Did you mean 'tiny-llama'?", e.Message);
        }

        [Fact]
        public void HeadsNotDivisibleBySequenceParallelSizeNameBothAndTheWorkingSizes()
        {
            var c = ConfigCatalogue.Get("tiny-llama");
            c.GpusPerNode = 3;
            c.SequenceParallelSize = 3;
            var e = Assert.Single(Errors(c));
            Assert.Equal(ErrorIds.InvalidSequenceParallelSize, e.ErrorId);
            Assert.Contains("sequence_parallel_size 3", e.Message);
            Assert.Contains("8 attention heads", e.Message);
            Assert.Contains("1, 2, 4, 8", e.Message);
            Assert.Contains("sequence_parallel_head_padding", e.Message);
        }

        [Fact]
        public void HeadPaddingTurnsTheErrorIntoAWarningWithItsCost()
        {
            var c = ConfigCatalogue.Get("qwen2-7b-full-128k-sp8");
            var findings = ConfigValidator.Validate(c, Here);
            var w = Assert.Single(findings, f => f.Key == "sequence_parallel_size");
            Assert.Equal(FindingSeverity.Warning, w.Severity);
            Assert.Contains("28 attention heads are padded to 32", w.Message);
            c.SequenceParallelHeadPadding = false;
            Assert.Contains(Errors(c), f => f.ErrorId == ErrorIds.InvalidSequenceParallelSize);
        }

        [Fact]
        public void SequenceParallelSizeMustDivideTheWorld()
        {
            var c = ConfigCatalogue.Get("tiny-llama");
            c.GpusPerNode = 6;
            c.SequenceParallelSize = 4;
            var e = Assert.Single(Errors(c));
            Assert.Equal(ErrorIds.InvalidSequenceParallelSize, e.ErrorId);
            Assert.Contains("world size 6", e.Message);
            Assert.Contains("1, 2, 3, 6", e.Message);
        }

        [Fact]
        public void SequenceLongerThanThePositionsNeedsRopeScaling()
        {
            var c = ConfigCatalogue.Get("llama2-7b-full-128k-sp8");
            c.Model.RopeScaling = null;
            var e = Assert.Single(Errors(c));
            Assert.Equal(ErrorIds.SequenceTooLong, e.ErrorId);
            Assert.Contains("131072", e.Message);
            Assert.Contains("4096 positions", e.Message);
            Assert.Contains("factor: 32", e.Message);
        }

        [Fact]
        public void SizesMustBePositive()
        {
            var c = ConfigCatalogue.Get("tiny-llama");
            c.BatchSize = 0;
            c.MaxLength = -1;
            c.AccumulativeCounts = 0;
            c.Lr = 0;
            c.WarmupRatio = 1.5;
            c.Betas = new System.Collections.Generic.List<double> { 0.9 };
            c.ZeroStage = 4;
            var keys = Errors(c).Select(f => f.Key).ToList();
            foreach (var k in new[] { "batch_size", "max_length", "accumulative_counts", "lr", "warmup_ratio", "betas", "zero_stage" })
                Assert.Contains(k, keys);
        }

        [Fact]
        public void ZeroStage3NeedsActivationCheckpointing()
        {
            var c = ConfigCatalogue.Get("tiny-llama");
            c.ZeroStage = 3;
            c.ActivationCheckpointing = false;
            var e = Assert.Single(Errors(c));
            Assert.Equal("zero_stage", e.Key);
            Assert.Contains("activation_checkpointing: true", e.Message);
            c.ActivationCheckpointing = true;
            Assert.Empty(Errors(c));
        }

        [Fact]
        public void CastingWeightsPerLayerNeedsTheWholeMasterOnTheDevice()
        {
            var c = ConfigCatalogue.Get("tiny-llama");
            c.ZeroStage = 0;
            c.OffloadOptimizer = false;
            // auto casts on CUDA only: on the CPU the casts cost more than the memory is worth.
            c.Device = DeviceKind.Cpu;
            Assert.False(c.CastsWeightsPerLayer(c.WorldSize));
            c.Device = DeviceKind.Cuda;
            Assert.True(c.CastsWeightsPerLayer(c.WorldSize));
            // auto steps aside where the master is not whole on the device; true is refused there, saying what to change.
            c.OffloadOptimizer = true;
            Assert.False(c.CastsWeightsPerLayer(c.WorldSize));
            Assert.DoesNotContain(Errors(c), e => e.Key == "cast_weights_per_layer");
            ConfigYaml.SetOption(c, "cast_weights_per_layer", "true");
            var offload = Assert.Single(Errors(c), e => e.Key == "cast_weights_per_layer");
            Assert.Contains("remove offload_optimizer", offload.Message);
            c.OffloadOptimizer = false;
            c.ZeroStage = 3;
            Assert.Contains("zero_stage 3", Assert.Single(Errors(c), e => e.Key == "cast_weights_per_layer").Message);
            // ZeRO-1/2 keep the whole master on one rank, shard it over several.
            c.ZeroStage = 2;
            c.Nodes = 1;
            c.GpusPerNode = 1;
            Assert.True(c.CastsWeightsPerLayer(1));
            c.GpusPerNode = 2;
            Assert.False(c.WeightCastApplies(2));
            Assert.Contains("over 2 ranks", Assert.Single(Errors(c), e => e.Key == "cast_weights_per_layer").Message);
            ConfigYaml.SetOption(c, "cast_weights_per_layer", "false");
            Assert.Equal(WeightCastMode.Off, c.CastWeightsPerLayer);
            c.ZeroStage = 0;
            Assert.False(c.CastsWeightsPerLayer(2));
        }

        [Fact]
        public void KeepingAttentionNeedsRecomputedLayers()
        {
            var c = ConfigCatalogue.Get("tiny-llama");
            c.ActivationCheckpointing = false;
            c.RecomputeAttention = false;
            var e = Assert.Single(Errors(c));
            Assert.Equal("recompute_attention", e.Key);
            Assert.Contains("activation_checkpointing: true, N or auto", e.Message);
            // true and auto say nothing without recompute; with it, false and a count are fine.
            c.RecomputeAttention = true;
            Assert.Empty(Errors(c));
            c.RecomputeAttention = LayerCount.Auto;
            Assert.Empty(Errors(c));
            c.ActivationCheckpointing = true;
            c.RecomputeAttention = LayerCount.Of(1);
            Assert.Empty(Errors(c));
        }

        [Fact]
        public void MissingDataFilesAreNamed()
        {
            var c = ConfigCatalogue.Get("tiny-llama");
            c.DataFiles = new System.Collections.Generic.List<string> { "nope.jsonl", "builtin:nope" };
            var errors = Errors(c, "/tmp");
            Assert.Contains(errors, f => f.ErrorId == ErrorIds.PathNotFound && f.Message.Contains("/tmp/nope.jsonl"));
            Assert.Contains(errors, f => f.Message.Contains("builtin:alpaca-sample"));
            Assert.DoesNotContain(ConfigValidator.Validate(c, "/tmp", checkPaths: false), f => f.Severity == FindingSeverity.Error);
        }

        [Fact]
        public void RandomInitNeedsTheArchitecture()
        {
            var c = new XTunerConfig { RandomInit = true, DatasetFormat = DatasetFormat.Synthetic };
            var e = Assert.Single(Errors(c));
            Assert.Contains("model.hidden_size", e.Message);
        }

        [Fact]
        public void NoModelAtAllIsAnError()
        {
            var c = new XTunerConfig { DatasetFormat = DatasetFormat.Synthetic };
            Assert.Contains(Errors(c), f => f.ErrorId == ErrorIds.ModelNotFound);
        }

        [Fact]
        public void CheckpointAndConfigMustAgreeOnStructure()
        {
            var dir = TempDir.Create();
            File.Copy(Path.Combine(AppContext.BaseDirectory, "data", "hf-configs", "tiny-llama", "config.json"), Path.Combine(dir, "config.json"));
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), "{}");
            var c = new XTunerConfig { PretrainedModelNameOrPath = dir, DataFiles = { "builtin:alpaca-sample" }, MaxLength = 8192 };
            c.Model.NumAttentionHeads = 8;
            c.Model.RopeScaling = new RopeScaling { RopeType = RopeType.Linear, Factor = 2 };
            var errors = Errors(c);
            var e = Assert.Single(errors);
            Assert.Equal(ErrorIds.ModelMismatch, e.ErrorId);
            Assert.Contains("num_attention_heads is 8 but the checkpoint's config.json says 4", e.Message);
            c.Model.NumAttentionHeads = null;
            Assert.Empty(Errors(c));
        }

        [Fact]
        public void AMissingHubCheckpointIsAWarningNotAnError()
        {
            var c = ConfigCatalogue.Get("llama2-7b-full-8k-sp1");
            var w = Assert.Single(ConfigValidator.Validate(c, Here), f => f.ErrorId == ErrorIds.ModelNotFound);
            Assert.Equal(FindingSeverity.Warning, w.Severity);
            Assert.Contains("huggingface-cli download meta-llama/Llama-2-7b-hf", w.Message);
        }

        [Fact]
        public void SequenceParallelCheckAloneForAProposedSize()
        {
            var c = ConfigCatalogue.Get("tiny-llama-sp2");
            Assert.Empty(ConfigValidator.ValidateSequenceParallel(c, 2, Here));
            Assert.Single(ConfigValidator.ValidateSequenceParallel(c, 0, Here));
            Assert.Contains(ConfigValidator.ValidateSequenceParallel(c, 4, Here), f => f.Message.Contains("world size 2"));
        }
    

        [Fact]
        public void OffloadedActivationsNeedCheckpointing()
        {
            var config = ConfigCatalogue.Get("tiny-llama");
            config.OffloadActivations = LayerCount.All;
            config.ActivationCheckpointing = false;
            var error = Assert.Single(Errors(config));
            Assert.Equal("offload_activations", error.Key);
            config.ActivationCheckpointing = true;
            Assert.Empty(Errors(config));
        }

        [Fact]
        public void MlpTilesAreAutoOrACountOfOneOrMore()
        {
            var config = ConfigCatalogue.Get("tiny-llama");
            ConfigYaml.SetOption(config, "mlp_tiles", "4");
            Assert.Equal(AutoCount.Of(4), config.MlpTiles);
            ConfigYaml.SetOption(config, "mlp_tiles", "auto");
            Assert.True(config.MlpTiles.IsAuto);
            var e = Assert.ThrowsAny<Exception>(() => ConfigYaml.SetOption(config, "mlp_tiles", "0"));
            Assert.Contains("neither auto nor a whole number of 1 or more", e.Message);
            Assert.Contains("mlp_tiles: 4", ConfigYaml.Serialize(ConfigYaml.Parse("mlp_tiles: 4\nname: x\n")));
        }
    

        [Theory]
        [InlineData("llama")]
        [InlineData("internlm2")]
        [InlineData("cohere")]
        public void AWindowForAFamilyWithoutOneIsRefusedNotIgnored(string architecture)
        {
            var config = ConfigCatalogue.Get("tiny-llama");
            ConfigYaml.SetOption(config, "model.architecture", architecture);
            ConfigYaml.SetOption(config, "model.sliding_window", "16");
            var error = Assert.Single(Errors(config));
            Assert.Equal("model.sliding_window", error.Key);
            Assert.Contains("would be ignored", error.Message);
            ConfigYaml.SetOption(config, "model.architecture", "mistral");
            Assert.Empty(Errors(config));
        }

        [Theory]
        [InlineData("auto", FusedKernelsMode.Auto)]
        [InlineData("true", FusedKernelsMode.On)]
        [InlineData("on", FusedKernelsMode.On)]
        [InlineData("false", FusedKernelsMode.Off)]
        [InlineData("off", FusedKernelsMode.Off)]
        public void FusedKernelsAreAutoTrueOrFalse(string text, FusedKernelsMode mode)
        {
            var config = ConfigCatalogue.Get("tiny-llama");
            // Auto by default: on CUDA where NVRTC loads (checked on the H200, 2026-12-03), never on the CPU.
            Assert.Equal(FusedKernelsMode.Auto, config.FusedKernels);
            ConfigYaml.SetOption(config, "fused_kernels", text);
            Assert.Equal(mode, config.FusedKernels);
            var written = ConfigYaml.Serialize(config);
            Assert.Contains("fused_kernels: " + ConfigValues.FormatEnum(mode), written);
            Assert.Equal(mode, ConfigYaml.Parse(written).FusedKernels);
        }

        [Fact]
        public void FusedKernelsTakeNoOtherValue()
        {
            var e = Assert.ThrowsAny<Exception>(() => ConfigYaml.SetOption(ConfigCatalogue.Get("tiny-llama"), "fused_kernels", "sometimes"));
            Assert.Contains("'sometimes' is not one of: auto, true, false", e.Message);
        }

        [Fact]
        public void FusedKernelsTrueOnTheCpuIsRefusedWithWhatToChange()
        {
            var config = ConfigCatalogue.Get("tiny-llama");
            config.Device = DeviceKind.Cpu;
            config.DType = TrainingDType.Float32;
            config.FusedKernels = FusedKernelsMode.On;
            var error = Assert.Single(Errors(config));
            Assert.Equal("fused_kernels", error.Key);
            Assert.Equal(ErrorIds.FusedKernelsUnavailable, error.ErrorId);
            Assert.Contains("set fused_kernels: auto or false", error.Message);
            config.FusedKernels = FusedKernelsMode.Auto;
            Assert.Empty(Errors(config));
            config.Device = DeviceKind.Cuda;
            config.FusedKernels = FusedKernelsMode.On;
            Assert.Empty(Errors(config));
        }
    }
}
