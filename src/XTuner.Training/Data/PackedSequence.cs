using System;
using System.Linq;

namespace XTuner.Training.Data
{
    /// <summary>
    /// One training sequence: one sample, or several packed end to end. <see cref="PositionIds"/> restart at 0 where each
    /// document starts; padding (labels <see cref="TokenizedSample.IgnoreIndex"/>) continues the last document's positions.
    /// </summary>
    public sealed class PackedSequence
    {
        public PackedSequence(int[] inputIds, int[] labels, int[] positionIds, int[] documentLengths)
        {
            if (labels.Length != inputIds.Length || positionIds.Length != inputIds.Length)
                throw new ArgumentException($"input_ids ({inputIds.Length}), labels ({labels.Length}) and position_ids ({positionIds.Length}) differ in length.");
            if (documentLengths.Sum() > inputIds.Length)
                throw new ArgumentException("Documents are longer than the sequence.", nameof(documentLengths));
            InputIds = inputIds;
            Labels = labels;
            PositionIds = positionIds;
            DocumentLengths = documentLengths;
        }

        public int[] InputIds { get; }

        public int[] Labels { get; }

        public int[] PositionIds { get; }

        /// <summary>Tokens of each document in order; the tokens after them are padding.</summary>
        public int[] DocumentLengths { get; }

        /// <summary>Samples packed into this sequence.</summary>
        public int Documents => DocumentLengths.Length;

        public int Length => InputIds.Length;

        public override string ToString() => $"{Length} tokens, {Documents} document(s)";
    }
}
