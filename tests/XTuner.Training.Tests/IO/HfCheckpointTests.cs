using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Core.Configuration;
using XTuner.Core.Models;
using XTuner.Training.IO;
using XTuner.Training.Models;
using XTuner.Training.Tests.Models;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.IO
{
    public class HfCheckpointTests
    {
        [Theory]
        [InlineData(ModelArchitecture.Llama)]
        [InlineData(ModelArchitecture.InternLM2)]
        [InlineData(ModelArchitecture.Cohere)]
        public void SaveThenLoadGivesEqualTensors(ModelArchitecture architecture)
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var spec = TinySpecs.For(architecture);
            manual_seed(1);
            using var saved = new DecoderModel(spec);
            var target = Path.Combine(folder.Path, "checkpoint");
            HfCheckpoint.Save(saved, spec, target);

            Assert.True(File.Exists(Path.Combine(target, "model.safetensors")));
            Assert.False(File.Exists(Path.Combine(target, SafetensorsIndex.FileName)));
            Assert.True(File.Exists(Path.Combine(target, "generation_config.json")));
            var reread = HfModelConfig.Read(target);
            Assert.Equal(spec.ParameterCount, reread.ParameterCount);

            manual_seed(2);
            using var loaded = new DecoderModel(reread);
            HfCheckpoint.Load(loaded, target);
            AssertSameParameters(saved, loaded);
        }

        [Fact]
        public void ShardsLikeTransformersAndLoadsTheShards()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var spec = TinySpecs.For(ModelArchitecture.Qwen2);
            manual_seed(3);
            using var saved = new DecoderModel(spec);
            var target = Path.Combine(folder.Path, "sharded");
            HfCheckpoint.Save(saved, spec, target, maxShardBytes: 20_000);

            var map = SafetensorsIndex.Read(Path.Combine(target, SafetensorsIndex.FileName));
            var shards = map.Values.Distinct().OrderBy(s => s).ToList();
            Assert.True(shards.Count > 2);
            Assert.Equal($"model-00001-of-{shards.Count:D5}.safetensors", shards[0]);
            Assert.False(File.Exists(Path.Combine(target, "model.safetensors")));
            Assert.Equal(saved.named_parameters().Select(p => p.name).OrderBy(n => n), map.Keys.OrderBy(n => n));
            foreach (var shard in shards)
                Assert.True(new FileInfo(Path.Combine(target, shard)).Length < 20_000 + 4096, shard);

            manual_seed(4);
            using var loaded = new DecoderModel(spec);
            HfCheckpoint.Load(loaded, target);
            AssertSameParameters(saved, loaded);
        }

        [Fact]
        public void SavingReplacesTheFolderAndLeavesNoStagingBehind()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var spec = TinySpecs.For(ModelArchitecture.Llama);
            var target = Path.Combine(folder.Path, "out");
            Directory.CreateDirectory(target);
            File.WriteAllText(Path.Combine(target, "stale.txt"), "old");
            using var model = new DecoderModel(spec);
            HfCheckpoint.Save(model, spec, target, saveDtype: ScalarType.BFloat16);

            Assert.False(File.Exists(Path.Combine(target, "stale.txt")));
            Assert.Equal(new[] { "out" }, Directory.GetFileSystemEntries(folder.Path).Select(Path.GetFileName));
            Assert.Contains("\"torch_dtype\": \"bfloat16\"", File.ReadAllText(Path.Combine(target, "config.json")));
        }

        [Fact]
        public void AnInternLM2ConfigCarriesTheRopeKeysItsRemoteCodeReads()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var spec = TinySpecs.For(ModelArchitecture.InternLM2, ropeScaling: new RopeScaling { RopeType = RopeType.Dynamic, Factor = 2 });
            using var model = new DecoderModel(spec);
            HfCheckpoint.Save(model, spec, folder.Path + "/internlm2");

            var config = File.ReadAllText(folder.Path + "/internlm2/config.json");
            Assert.Contains("\"type\": \"dynamic\"", config);
            Assert.Contains("\"AutoModelForCausalLM\": \"modeling_internlm2.InternLM2ForCausalLM\"", config);
            Assert.Equal(RopeType.Dynamic, HfModelConfig.Read(folder.Path + "/internlm2").RopeScaling!.RopeType);
        }

        [Fact]
        public void ABfloat16CheckpointLoadsIntoAFloat32Model()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var spec = TinySpecs.For(ModelArchitecture.Llama);
            manual_seed(5);
            using var saved = new DecoderModel(spec);
            HfCheckpoint.Save(saved, spec, folder.Path + "/bf16", saveDtype: ScalarType.BFloat16);
            using (var file = SafetensorsFile.Open(folder.Path + "/bf16/model.safetensors"))
                Assert.All(file.Tensors.Values, t => Assert.Equal(ScalarType.BFloat16, t.DType));

            using var loaded = new DecoderModel(spec);
            HfCheckpoint.Load(loaded, folder.Path + "/bf16");
            foreach (var ((name, expected), (_, actual)) in saved.named_parameters().Zip(loaded.named_parameters()))
            {
                Assert.Equal(ScalarType.Float32, actual.dtype);
                TensorAssert.Equal(actual, expected.to(ScalarType.BFloat16).to(ScalarType.Float32), name);
            }
        }

        [Fact]
        public void MissingAndUnexpectedTensorsAreNamed()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            using var llama = SafetensorsFile.Open(Path.Combine(HfFixture.Folder("tiny-llama"), "model.safetensors"));
            var tensors = llama.Tensors.Keys
                .Where(name => name != "model.layers.1.mlp.up_proj.weight")
                .Select(name => new KeyValuePair<string, Tensor>(name, llama.Read(name)))
                .Append(new KeyValuePair<string, Tensor>("model.layers.0.mlp.extra.weight", zeros(2)))
                .ToList();
            File.Copy(Path.Combine(HfFixture.Folder("tiny-llama"), "config.json"), folder.File("config.json"));
            SafetensorsWriter.Write(folder.File("model.safetensors"), tensors);

            using var model = new DecoderModel(HfModelConfig.Read(folder.Path));
            var error = Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(model, folder.Path));
            Assert.Contains("missing tensors: model.layers.1.mlp.up_proj.weight", error.Message);
            Assert.Contains("unexpected tensors: model.layers.0.mlp.extra.weight", error.Message);
        }

        [Fact]
        public void ShapeMismatchesAreNamed()
        {
            using var scope = NewDisposeScope();
            var spec = HfFixture.Spec("tiny-llama");
            spec.IntermediateSize = 128;
            using var model = new DecoderModel(spec);
            var error = Assert.Throws<InvalidDataException>(() => HfCheckpoint.Load(model, HfFixture.Folder("tiny-llama")));
            Assert.Contains("model.layers.0.mlp.up_proj.weight [176, 64] (model [128, 64])", error.Message);
        }

        [Fact]
        public void ATiedModelAcceptsAStoredLmHead()
        {
            using var scope = NewDisposeScope();
            using var folder = new TempFolder();
            var qwen2 = HfFixture.Folder("tiny-qwen2");
            using var stored = SafetensorsFile.Open(Path.Combine(qwen2, "model.safetensors"));
            var tensors = stored.Tensors.Keys.Select(name => new KeyValuePair<string, Tensor>(name, stored.Read(name))).ToList();
            tensors.Add(new KeyValuePair<string, Tensor>("lm_head.weight", stored.Read("model.embed_tokens.weight")));
            File.Copy(Path.Combine(qwen2, "config.json"), folder.File("config.json"));
            SafetensorsWriter.Write(folder.File("model.safetensors"), tensors);

            using var model = HfFixture.Load(folder.Path);
            TensorAssert.Equal(model.LmHeadWeight, stored.Read("model.embed_tokens.weight"), "tied head");
        }

        [Fact]
        public void AFolderWithoutWeightsSaysWhatIsMissing()
        {
            using var folder = new TempFolder();
            using var model = new DecoderModel(TinySpecs.For(ModelArchitecture.Llama));
            var error = Assert.Throws<FileNotFoundException>(() => HfCheckpoint.Load(model, folder.Path));
            Assert.Contains("model.safetensors", error.Message);
        }

        private static void AssertSameParameters(DecoderModel expected, DecoderModel actual)
        {
            var a = actual.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            Assert.Equal(expected.named_parameters().Select(p => p.name), a.Keys);
            foreach (var (name, parameter) in expected.named_parameters())
                TensorAssert.Equal(a[name], parameter, name);
        }
    }
}
