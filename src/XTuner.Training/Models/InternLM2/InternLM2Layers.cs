using System.Collections.Generic;
using XTuner.Core.Configuration;
using static TorchSharp.torch;

namespace XTuner.Training.Models.InternLM2
{
    /// <summary>InternLM2's modules: the Llama block under its own names, with a packed wqkv.</summary>
    internal sealed class InternLM2Layers : LayerFactory
    {
        public override IReadOnlyList<ModelArchitecture> Architectures { get; } = new[] { ModelArchitecture.InternLM2 };

        public override DecoderLayer CreateLayer(DecoderShape shape, Device device, ScalarType dtype) =>
            new InternLM2DecoderLayer(shape, device, dtype);
    }
}
