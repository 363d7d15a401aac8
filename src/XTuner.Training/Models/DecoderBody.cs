using System.Collections.Generic;
using System.Linq;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// The checkpoint's <c>model.</c> module: embedding, decoder layers, final norm. Registered by hand, because the
    /// embedding's name is the family's (embed_tokens; InternLM2's tok_embeddings).
    /// </summary>
    /// <remarks>
    /// TorchSharp's state_dict also registers any field of a module type under the field's name, so the layers' field is
    /// named as registered and the embedding and norm are held in a tuple, which it does not look into.
    /// </remarks>
    internal sealed class DecoderBody : nn.Module
    {
        private readonly ModuleList<DecoderLayer> layers;
        private readonly (TokenEmbedding Embedding, nn.Module<Tensor, Tensor> Norm) _parts;

        public DecoderBody(DecoderShape shape, Device device, ScalarType dtype, System.Action<int, nn.Module>? onLayerBuilt) : base(nameof(DecoderBody))
        {
            var factory = LayerFactory.For(shape.Architecture);
            var embedding = new TokenEmbedding(shape.VocabSize, shape.HiddenSize, device, dtype);
            layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, shape.Layers).Select(i =>
            {
                var layer = factory.CreateLayer(shape, device, dtype);
                onLayerBuilt?.Invoke(i, layer);
                return layer;
            }).ToArray());
            _parts = (embedding, factory.CreateFinalNorm(shape, device, dtype));
            register_module(shape.Family.EmbeddingName, embedding);
            register_module("layers", layers);
            register_module("norm", _parts.Norm);
        }

        public TokenEmbedding Embedding => _parts.Embedding;

        public IList<DecoderLayer> Layers => layers;

        public nn.Module<Tensor, Tensor> Norm => _parts.Norm;
    }
}
