using System;
using System.Collections.Generic;
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

        /// <summary>The samples end to end, padded with <paramref name="padId"/> to <paramref name="length"/> tokens.</summary>
        internal static PackedSequence FromDocuments(IReadOnlyList<TokenizedSample> documents, int length, int padId)
        {
            var ids = new int[length];
            var labels = new int[length];
            var lengths = new int[documents.Count];
            var offset = 0;
            for (var d = 0; d < documents.Count; d++)
            {
                documents[d].InputIds.CopyTo(ids, offset);
                documents[d].Labels.CopyTo(labels, offset);
                lengths[d] = documents[d].Length;
                offset += lengths[d];
            }
            var positions = new int[length];
            Lay(ids, labels, positions, lengths, padId);
            return new PackedSequence(ids, labels, positions, lengths);
        }

        /// <summary>
        /// The part of a sequence that follows from its documents, which fill the start of <paramref name="ids"/> and
        /// <paramref name="labels"/>: every position id, and the padding after the documents. The one rule for sequences
        /// packed in memory and sequences read from a dataset cache, so that both are the same.
        /// </summary>
        internal static void Lay(int[] ids, int[] labels, int[] positions, ReadOnlySpan<int> documentLengths, int padId)
        {
            var offset = 0;
            var last = 0;
            foreach (var length in documentLengths)
            {
                for (var t = 0; t < length; t++)
                    positions[offset + t] = t;
                offset += length;
                last = length;
            }
            for (var t = offset; t < ids.Length; t++)
            {
                ids[t] = padId;
                labels[t] = TokenizedSample.IgnoreIndex;
                positions[t] = last + (t - offset);
            }
        }

        public override string ToString() => $"{Length} tokens, {Documents} document(s)";
    }
}
