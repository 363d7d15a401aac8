using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Core.Configuration;
using XTuner.Core.Models;
using XTuner.Training.IO;
using XTuner.Training.Models;
using XTuner.Training.Models.Attention;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Models
{
    /// <summary>
    /// InternLM2 is not in transformers: tiny-llama's weights repacked into an InternLM2 checkpoint (model_type
    /// internlm2, packed wqkv, InternLM2 names) must reproduce tiny-llama's references, which proves the mapping.
    /// </summary>
    public sealed class InternLM2ParityTests : HfParityTests, IDisposable
    {
        private readonly string _folder = Path.Combine(Path.GetTempPath(), $"xtuner-internlm2-{Guid.NewGuid():N}");
        private readonly InternLM2Layout _layout;

        public InternLM2ParityTests(ITestOutputHelper output) : base(output)
        {
            var spec = HfFixture.Spec(ReferenceFixture);
            spec.Architecture = ModelArchitecture.InternLM2;
            _layout = new InternLM2Layout(spec.NumAttentionHeads!.Value, spec.NumKeyValueHeads!.Value, spec.EffectiveHeadDim!.Value);
            Directory.CreateDirectory(_folder);
            File.WriteAllText(Path.Combine(_folder, "config.json"), HfModelConfig.Write(spec));
            using var scope = NewDisposeScope();
            using var llama = SafetensorsFile.Open(Path.Combine(HfFixture.Folder(ReferenceFixture), "model.safetensors"));
            var packed = _layout.Pack(llama.Tensors.Keys.ToDictionary(name => name, llama.Read));
            SafetensorsWriter.Write(Path.Combine(_folder, "model.safetensors"), packed.ToList());
        }

        protected override string ReferenceFixture => "tiny-llama";

        protected override DecoderModel LoadModel() => HfFixture.Load(_folder);

        protected override IReadOnlyDictionary<string, Tensor> ReferenceNamed(IReadOnlyDictionary<string, Tensor> tensors) =>
            _layout.Unpack(tensors);

        public void Dispose() => Directory.Delete(_folder, true);
    }
}
