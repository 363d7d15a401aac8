using System.Linq;
using XTuner.Core;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using Xunit;

namespace XTuner.Core.Tests.Configuration
{
    public class ConfigYamlTests
    {
        public static TheoryData<string> CatalogueNames()
        {
            var data = new TheoryData<string>();
            foreach (var n in ConfigCatalogue.Names) data.Add(n);
            return data;
        }

        [Theory]
        [MemberData(nameof(CatalogueNames))]
        public void EveryCatalogueEntryRoundTripsThroughYaml(string name)
        {
            var config = ConfigCatalogue.Get(name);
            var yaml = ConfigYaml.Serialize(config);
            var again = ConfigYaml.Parse(yaml);
            Assert.Equal(yaml, ConfigYaml.Serialize(again));
            Assert.Equal(config.MaxLength, again.MaxLength);
            Assert.Equal(config.Model.RopeScaling?.Factor, again.Model.RopeScaling?.Factor);
            Assert.Equal(config.Betas, again.Betas);
        }

        [Fact]
        public void ACheckpointOptionReplacesTheTemplatesArchitectureAsNewXTunerConfigModelDoes()
        {
            var config = ConfigCatalogue.Get("llama2-7b-full-128k-sp8");
            var scaling = config.Model.RopeScaling;
            // The tokenizer comes after the checkpoint whatever the order: it refines the checkpoint's.
            ConfigYaml.ApplyOptions(config, new[] { "tokenizer=/t/tokenizer.json", "pretrained_model_name_or_path=/models/llama", "lr=1e-4" });
            Assert.Equal("/models/llama", config.PretrainedModelNameOrPath);
            Assert.False(config.RandomInit);
            Assert.Null(config.Model.HiddenSize);
            Assert.Null(config.Model.NumAttentionHeads);
            Assert.Same(scaling, config.Model.RopeScaling);
            Assert.Equal("/t/tokenizer.json", config.Tokenizer);
            Assert.Equal(1e-4, config.Lr);

            var random = ConfigCatalogue.Get("tiny-llama");
            ConfigYaml.ApplyOptions(random, new[] { "pretrained_model_name_or_path='/models/tiny'" });
            Assert.Equal("/models/tiny", random.PretrainedModelNameOrPath);
            Assert.Null(random.Model.Architecture);
            Assert.Null(random.Tokenizer);
        }

        [Fact]
        public void WritesXTunerKeyNames()
        {
            var yaml = ConfigYaml.Serialize(ConfigCatalogue.Get("tiny-llama"));
            foreach (var key in new[] { "data_files:", "dataset_format:", "max_length:", "pack_to_max_length:", "sequence_parallel_size:",
                         "batch_size:", "accumulative_counts:", "max_steps:", "lr:", "warmup_ratio:", "max_norm:", "seed:", "dtype:", "save_steps:" })
                Assert.Contains("\n" + key, "\n" + yaml);
            Assert.Contains("lr: 0.003", yaml);
            Assert.Contains("betas: [0.9, 0.95]", yaml);
        }

        [Fact]
        public void UnknownKeyNamesFileLineAndClosestKey()
        {
            var e = Assert.Throws<XTunerConfigException>(() => ConfigYaml.Parse("name: x\nmax_lenght: 10\n", "my.yaml"));
            var f = Assert.Single(e.Findings);
            Assert.Equal(ErrorIds.UnknownConfigKey, f.ErrorId);
            Assert.Equal(2, f.Line);
            Assert.Equal("my.yaml:2:1", f.Location);
            Assert.Contains("Did you mean 'max_length'?", f.Message);
            Assert.StartsWith("my.yaml:2:1: Unknown key 'max_lenght'", e.Message);
        }

        [Fact]
        public void KeyInTheWrongSectionPointsToItsSection()
        {
            var e = Assert.Throws<XTunerConfigException>(() => ConfigYaml.Parse("partition: gpu\n"));
            Assert.Contains("'slurm.partition'", e.Message);
        }

        [Fact]
        public void NestedUnknownKeyIsReportedAtItsLine()
        {
            var e = Assert.Throws<XTunerConfigException>(() => ConfigYaml.Parse("model:\n  hidden_size: 64\n  num_heads: 4\n"));
            var f = Assert.Single(e.Findings);
            Assert.Equal(3, f.Line);
            Assert.Contains("num_attention_heads", f.Message);
        }

        [Fact]
        public void EveryProblemIsReportedAtOnce()
        {
            var e = Assert.Throws<XTunerConfigException>(() => ConfigYaml.Parse("max_length: lots\ndtype: fp64\nbatch_sise: 2\n"));
            Assert.Equal(3, e.Findings.Count);
            Assert.Contains("'lots' is not an integer", e.Findings[0].Message);
            Assert.Contains("float32, bfloat16", e.Findings[1].Message);
            Assert.Contains("batch_size", e.Findings[2].Message);
        }

        [Theory]
        [InlineData("max_length: 128k", 131072)]
        [InlineData("max_length: 1m", 1048576)]
        [InlineData("max_length: 4096", 4096)]
        [InlineData("max_length: 2e3", 2000)]
        public void IntegersAcceptSizeSuffixes(string yaml, int expected) =>
            Assert.Equal(expected, ConfigYaml.Parse(yaml).MaxLength);

        [Fact]
        public void EnumsAcceptAliasesAndAnyCase()
        {
            var c = ConfigYaml.Parse("dtype: bf16\ndevice: GPU\ndataset_format: Chat\n");
            Assert.Equal(TrainingDType.BFloat16, c.DType);
            Assert.Equal(DeviceKind.Cuda, c.Device);
            Assert.Equal(DatasetFormat.Chat, c.DatasetFormat);
        }

        [Fact]
        public void NullClearsOptionalKeysAndIsRefusedForRequiredOnes()
        {
            Assert.Null(ConfigYaml.Parse("max_steps: null\n").MaxSteps);
            Assert.Null(ConfigYaml.Parse("model:\n  rope_scaling: null\n").Model.RopeScaling);
            var e = Assert.Throws<XTunerConfigException>(() => ConfigYaml.Parse("max_length: ~\n"));
            Assert.Contains("needs a value", e.Message);
        }

        [Fact]
        public void AScalarWhereAListIsExpectedIsAOneItemList() =>
            Assert.Equal(new[] { "a.jsonl" }, ConfigYaml.Parse("data_files: a.jsonl\n").DataFiles);

        [Fact]
        public void InvalidYamlIsReportedWithItsPosition()
        {
            var e = Assert.Throws<XTunerConfigException>(() => ConfigYaml.Parse("name: [unclosed\nlr: 1\n", "bad.yaml"));
            Assert.StartsWith("bad.yaml:", e.Findings[0].Location);
            Assert.Contains("Not valid YAML", e.Message);
        }

        [Fact]
        public void StringsThatLookLikeNumbersAreQuoted()
        {
            var c = new XTunerConfig { Name = "123", Description = "true" };
            var yaml = ConfigYaml.Serialize(c);
            Assert.Contains("name: '123'", yaml);
            Assert.Equal("true", ConfigYaml.Parse(yaml).Description);
        }

        [Fact]
        public void SetOptionTakesDottedKeysAndYamlValues()
        {
            var c = new XTunerConfig();
            ConfigYaml.ApplyOptions(c, new[] { "sequence_parallel_size=4", "slurm.partition=gpu", "betas=[0.8, 0.9]", "model.rope_scaling.factor=4", "max_steps=10" });
            Assert.Equal(4, c.SequenceParallelSize);
            Assert.Equal("gpu", c.Slurm.Partition);
            Assert.Equal(new[] { 0.8, 0.9 }, c.Betas);
            Assert.Equal(4.0, c.Model.RopeScaling!.Factor);
            Assert.Equal(10, c.MaxSteps);
        }

        [Fact]
        public void SetOptionRejectsUnknownKeysWithASuggestion()
        {
            var e = Assert.Throws<XTunerConfigException>(() => ConfigYaml.SetOption(new XTunerConfig(), "sequence_paralel_size", "2"));
            Assert.Equal(ErrorIds.UnknownConfigKey, e.ErrorId);
            Assert.Contains("Did you mean 'sequence_parallel_size'?", e.Message);
            Assert.Throws<XTunerConfigException>(() => ConfigYaml.ApplyOptions(new XTunerConfig(), new[] { "lr" }));
        }

        [Fact]
        public void SetValueTakesDotNetValues()
        {
            var c = new XTunerConfig();
            ConfigYaml.SetValue(c, "lr", 2e-5);
            ConfigYaml.SetValue(c, "data_files", new[] { "a.jsonl", "b.jsonl" });
            ConfigYaml.SetValue(c, "pack_to_max_length", false);
            ConfigYaml.SetValue(c, "name", "it's");
            Assert.Equal(2e-5, c.Lr);
            Assert.Equal(new[] { "a.jsonl", "b.jsonl" }, c.DataFiles);
            Assert.False(c.PackToMaxLength);
            Assert.Equal("it's", c.Name);
        }

        [Fact]
        public void CloneIsDeep()
        {
            var a = ConfigCatalogue.Get("llama2-7b-full-128k-sp8");
            var b = a.Clone();
            b.DataFiles.Add("x");
            b.Model.RopeScaling!.Factor = 2;
            b.Slurm.ExtraSbatchLines.Add("--qos=x");
            Assert.Single(a.DataFiles);
            Assert.Equal(32.0, a.Model.RopeScaling!.Factor);
            Assert.Empty(a.Slurm.ExtraSbatchLines);
        }

        [Theory]
        [InlineData(2e-5, "2.0e-05")]
        [InlineData(0.03, "0.03")]
        [InlineData(1.0, "1.0")]
        [InlineData(10000.0, "10000.0")]
        [InlineData(5e6, "5000000.0")]
        public void DoublesAreWrittenAsYamlFloats(double value, string text) =>
            Assert.Equal(text, ConfigValues.FormatDouble(value));

        [Fact]
        public void LoadingAMissingFileSaysWhichFile()
        {
            var e = Assert.Throws<XTunerConfigException>(() => ConfigYaml.Load("/nonexistent/x.yaml"));
            Assert.Equal(ErrorIds.ConfigFileNotFound, e.ErrorId);
            Assert.Contains("/nonexistent/x.yaml", e.Message);
        }

        [Fact]
        public void SaveWritesAtomicallyAndRecordsNothingElse()
        {
            var dir = TempDir.Create();
            var path = System.IO.Path.Combine(dir, "sub", "c.yaml");
            ConfigYaml.Save(ConfigCatalogue.Get("tiny-llama"), path);
            Assert.Equal(new[] { "c.yaml" }, System.IO.Directory.GetFiles(System.IO.Path.GetDirectoryName(path)!).Select(System.IO.Path.GetFileName));
            var loaded = ConfigYaml.Load(path);
            Assert.Equal(path, loaded.SourcePath);
            Assert.Equal("tiny-llama", loaded.Name);
        }
    }
}
