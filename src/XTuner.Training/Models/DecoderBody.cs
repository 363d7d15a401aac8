using System.Collections.Generic;
using System.Linq;
using TorchSharp.Modules;
using XTuner.Core.Configuration;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>The checkpoint's <c>model.</c> module: embedding, decoder layers, final norm.</summary>
    internal sealed class DecoderBody : nn.Module
    {
        // InternLM2 names the embedding tok_embeddings; every other family embed_tokens. Exactly one is set.
        private readonly TokenEmbedding? embed_tokens;
        private readonly TokenEmbedding? tok_embeddings;
        private readonly ModuleList<DecoderLayer> layers;
        private readonly nn.Module<Tensor, Tensor> norm;

        public DecoderBody(DecoderShape shape, Device device, ScalarType dtype, System.Action<int, nn.Module>? onLayerBuilt) : base(nameof(DecoderBody))
        {
            var embedding = new TokenEmbedding(shape.VocabSize, shape.HiddenSize, device, dtype);
            if (shape.Architecture == ModelArchitecture.InternLM2)
                tok_embeddings = embedding;
            else
                embed_tokens = embedding;
            layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, shape.Layers).Select(i =>
            {
                var layer = CreateLayer(shape, device, dtype);
                onLayerBuilt?.Invoke(i, layer);
                return layer;
            }).ToArray());
            norm = shape.Architecture == ModelArchitecture.Cohere
                ? new CohereLayerNorm(new[] { shape.HiddenSize }, shape.NormEps, device, dtype)
                : new RmsNorm(shape.HiddenSize, shape.NormEps, device, dtype);
            RegisterComponents();
        }

        public TokenEmbedding Embedding => (embed_tokens ?? tok_embeddings)!;

        public IList<DecoderLayer> Layers => layers;

        public nn.Module<Tensor, Tensor> Norm => norm;

        private static DecoderLayer CreateLayer(DecoderShape shape, Device device, ScalarType dtype) => shape.Architecture switch
        {
            ModelArchitecture.Cohere => new CohereDecoderLayer(shape.Attention, shape.IntermediateSize, shape.QkvBias, shape.OutputBias, shape.QkNorm, shape.NormEps, device, dtype),
            ModelArchitecture.InternLM2 => new InternLM2DecoderLayer(shape.Attention, shape.IntermediateSize, shape.QkvBias, shape.NormEps, device, dtype),
            _ => new LlamaDecoderLayer(shape.Attention, shape.IntermediateSize, shape.QkvBias, shape.OutputBias, shape.NormEps, device, dtype),
        };
    }
}
