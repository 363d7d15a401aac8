using System;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>Causal language-model cross-entropy computed from hidden states without materialising all logits.</summary>
    public static class LanguageModelLoss
    {
        /// <summary>The target value whose position contributes nothing (transformers' ignore_index).</summary>
        public const long IgnoreIndex = -100;

        /// <summary>
        /// The SUM of cross-entropy over the targets that are not <see cref="IgnoreIndex"/>: hidden [N, H] (any float
        /// dtype), lmHeadWeight [V, H], targets [N] int64; logits = (hidden lmHeadWeight^T) * logitScale. Only
        /// <paramref name="chunkTokens"/> rows of logits exist at a time, in forward and in backward (which recomputes
        /// them); softmax and the loss are float32. Returns a float32 scalar; divide by the global count of valid
        /// targets for the mean.
        /// </summary>
        public static Tensor Sum(Tensor hidden, Tensor lmHeadWeight, Tensor targets, double logitScale, int chunkTokens)
        {
            if (hidden.ndim != 2 || lmHeadWeight.ndim != 2 || hidden.shape[1] != lmHeadWeight.shape[1])
                throw new ArgumentException($"hidden must be [N, H] and lmHeadWeight [V, H]; got [{string.Join(", ", hidden.shape)}] and [{string.Join(", ", lmHeadWeight.shape)}].");
            if (hidden.dtype != lmHeadWeight.dtype)
                throw new ArgumentException($"hidden ({hidden.dtype}) and lmHeadWeight ({lmHeadWeight.dtype}) must share a dtype.");
            if (targets.ndim != 1 || targets.shape[0] != hidden.shape[0] || targets.dtype != ScalarType.Int64)
                throw new ArgumentException($"targets must be int64 [{hidden.shape[0]}]; got {targets.dtype} [{string.Join(", ", targets.shape)}].");
            if (chunkTokens < 1)
                throw new ArgumentOutOfRangeException(nameof(chunkTokens), chunkTokens, "Chunks hold at least one token.");
            return ChunkedCrossEntropy.apply(hidden, lmHeadWeight, targets, logitScale, chunkTokens);
        }

        /// <summary>
        /// The causal shift of labels [B, S]: targets[:, t] = labels[:, t+1] and the last position is ignored. Sequence
        /// parallelism splits the sequence after this shift, so no target is lost at chunk boundaries.
        /// </summary>
        public static Tensor ShiftTargets(Tensor labels)
        {
            if (labels.ndim != 2)
                throw new ArgumentException($"labels must be [batch, sequence]; got [{string.Join(", ", labels.shape)}].");
            using var scope = NewDisposeScope();
            var last = full(labels.shape[0], 1, IgnoreIndex, labels.dtype, labels.device);
            return cat(new[] { labels.narrow(1, 1, labels.shape[1] - 1), last }, 1).MoveToOuterDisposeScope();
        }
    }
}
