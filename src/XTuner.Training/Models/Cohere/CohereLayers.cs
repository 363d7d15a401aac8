using System.Collections.Generic;
using XTuner.Core.Configuration;
using static TorchSharp.torch;

namespace XTuner.Training.Models.Cohere
{
    /// <summary>Cohere's modules: the parallel block and LayerNorms without bias.</summary>
    internal sealed class CohereLayers : LayerFactory
    {
        public override IReadOnlyList<ModelArchitecture> Architectures { get; } = new[] { ModelArchitecture.Cohere };

        public override DecoderLayer CreateLayer(DecoderShape shape, Device device, ScalarType dtype) =>
            new CohereDecoderLayer(shape, device, dtype);

        public override nn.Module<Tensor, Tensor> CreateFinalNorm(DecoderShape shape, Device device, ScalarType dtype) =>
            new CohereLayerNorm(new[] { shape.HiddenSize }, shape.NormEps, device, dtype);
    }
}
