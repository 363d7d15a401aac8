using System.Collections.Generic;
using XTuner.Core.Configuration;
using static TorchSharp.torch;

namespace XTuner.Training.Models.Llama
{
    /// <summary>The Llama block, which Mistral and Qwen2 (and Yi, under model_type llama) share.</summary>
    internal sealed class LlamaLayers : LayerFactory
    {
        public override IReadOnlyList<ModelArchitecture> Architectures { get; } =
            new[] { ModelArchitecture.Llama, ModelArchitecture.Mistral, ModelArchitecture.Qwen2 };

        public override DecoderLayer CreateLayer(DecoderShape shape, Device device, ScalarType dtype) =>
            new LlamaDecoderLayer(shape, device, dtype);
    }
}
