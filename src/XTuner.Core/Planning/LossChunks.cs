using System;

namespace XTuner.Core.Planning
{
    /// <summary>
    /// How many tokens' logits the chunked loss builds at once, for the trainer and the planner alike: as many as make
    /// <see cref="Bytes"/> of float32 logits (at least 256 tokens).
    /// </summary>
    public static class LossChunks
    {
        /// <summary>Float32 logits of this many bytes at most exist at a time, in forward and in backward.</summary>
        public const long Bytes = 1L << 30;

        /// <summary>Tokens per chunk for a vocabulary of <paramref name="vocabSize"/>.</summary>
        public static int Tokens(long vocabSize) => (int)Math.Max(256, Bytes / (4 * Math.Max(1, vocabSize)));
    }
}
