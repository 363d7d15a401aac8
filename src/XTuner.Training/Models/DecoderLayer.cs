using XTuner.Training.Models.Attention;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>One decoder block. Implementations keep their sub-modules under the checkpoint's names.</summary>
    internal abstract class DecoderLayer : nn.Module
    {
        protected DecoderLayer(string name) : base(name)
        {
        }

        /// <summary>
        /// hidden [B, S, H] -> [B, S, H]. Every intermediate is released when this returns, so a layer run without
        /// autograd (activation checkpointing) keeps no activations.
        /// </summary>
        public abstract Tensor Forward(Tensor hidden, LayerContext context);
    }
}
