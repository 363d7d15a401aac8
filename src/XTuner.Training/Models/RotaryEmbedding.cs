using System;
using XTuner.Core.Configuration;
using XTuner.Core.Models;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// Builds the cos/sin tables of one forward from position ids, which can be global positions of a later
    /// sequence-parallel chunk or restart at every packed document.
    /// </summary>
    internal sealed class RotaryEmbedding
    {
        private readonly ModelSpec _spec;
        private readonly int _headDim;
        private readonly RotaryLayout _layout;
        private readonly float[] _inverseFrequencies;
        private readonly double _attentionScaling;

        public RotaryEmbedding(ModelSpec spec, int headDim, RotaryLayout layout)
        {
            if (headDim % 2 != 0)
                throw new ArgumentException($"RoPE needs an even head_dim; got {headDim}.");
            _spec = spec;
            _headDim = headDim;
            _layout = layout;
            (_inverseFrequencies, _attentionScaling) = RopeFrequencies.Compute(spec, headDim, null);
        }

        private bool IsDynamic => _spec.RopeScaling?.RopeType == RopeType.Dynamic;

        /// <summary>
        /// Tables for <paramref name="positionIds"/> [B, S]. Dynamic NTK depends on the sequence length: the global
        /// <paramref name="sequenceLength"/> when a rank sees only a chunk, else max(position_ids)+1 as transformers uses.
        /// </summary>
        public RotaryTables Tables(Tensor positionIds, long? sequenceLength, ScalarType dtype)
        {
            using var scope = NewDisposeScope();
            var (inverse, attentionScaling) = IsDynamic
                ? RopeFrequencies.Compute(_spec, _headDim, sequenceLength ?? positionIds.max().item<long>() + 1)
                : (_inverseFrequencies, _attentionScaling);
            var angles = positionIds.to(ScalarType.Float32).unsqueeze(-1)
                .mul(tensor(inverse, device: positionIds.device));
            var emb = _layout == RotaryLayout.Interleaved
                ? angles.repeat_interleave(2, dim: -1)
                : cat(new[] { angles, angles }, -1);
            var cos = emb.cos().mul_(attentionScaling).to(dtype).unsqueeze(2);
            var sin = emb.sin().mul_(attentionScaling).to(dtype).unsqueeze(2);
            return new RotaryTables(cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope(), _layout);
        }
    }
}
