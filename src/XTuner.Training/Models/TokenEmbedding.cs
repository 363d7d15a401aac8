using TorchSharp.Modules;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// Token embedding table. A row gather by advanced indexing, whose backward accumulates repeated tokens by sorting
    /// (on CUDA in float32), like nn.Embedding; TorchSharp's Embedding module would first allocate and fill a CPU table.
    /// </summary>
    internal sealed class TokenEmbedding : nn.Module<Tensor, Tensor>
    {
        private readonly Parameter weight;

        public TokenEmbedding(long vocabSize, long hiddenSize, Device device, ScalarType dtype)
            : base(nameof(TokenEmbedding))
        {
            weight = new Parameter(ModelInit.Normal(new[] { vocabSize, hiddenSize }, dtype, device));
            RegisterComponents();
        }

        public Parameter Weight => weight;

        public override Tensor forward(Tensor inputIds) => weight[TensorIndex.Tensor(inputIds)];
    }
}
