using System;
using System.Collections.Generic;
using System.Linq;
using XTuner.Training.Models.Attention;

namespace XTuner.Training.SequenceParallel
{
    /// <summary>
    /// One rank's share of a micro-batch: [batch, length/sp] token ids, next-token targets and global positions.
    /// Built by <see cref="Split"/> exactly as DESIGN.md prescribes: labels are shifted over the WHOLE sequence first
    /// (targets[t] = labels[t+1]), the sequence is padded to a multiple of the SP size (pad targets -100), and only
    /// then does rank r keep tokens [r L/sp, (r+1) L/sp). No target is lost at a chunk boundary.
    /// </summary>
    public sealed class SequenceChunk
    {
        public const int IgnoreIndex = -100;

        private SequenceChunk(long[] inputIds, long[] targets, long[] positionIds, int batch, int chunkLength, int fullLength, long ropeLength,
            DocumentLayout? documents)
        {
            Documents = documents;
            InputIds = inputIds;
            Targets = targets;
            PositionIds = positionIds;
            BatchSize = batch;
            ChunkLength = chunkLength;
            FullLength = fullLength;
            RopeSequenceLength = ropeLength;
        }

        /// <summary>[BatchSize x ChunkLength], row-major.</summary>
        public long[] InputIds { get; }

        /// <summary>[BatchSize x ChunkLength] next-token targets; -100 where there is none.</summary>
        public long[] Targets { get; }

        /// <summary>[BatchSize x ChunkLength] positions in the whole sequence (per document when packed).</summary>
        public long[] PositionIds { get; }

        public int BatchSize { get; }

        /// <summary>Tokens per row on this rank: the padded length / SP size.</summary>
        public int ChunkLength { get; }

        /// <summary>The padded length of the whole sequence (a multiple of the SP size).</summary>
        public int FullLength { get; }

        /// <summary>max(position)+1 over the whole micro-batch: what dynamic NTK RoPE scales by on every rank alike.</summary>
        public long RopeSequenceLength { get; }

        /// <summary>The documents of the whole sequences (use_varlen_attn), or null when attention spans each whole row.</summary>
        public DocumentLayout? Documents { get; }

        /// <summary>Targets on this rank that count in the loss.</summary>
        public long ValidTargets => Targets.LongCount(t => t != IgnoreIndex);

        /// <summary>
        /// Shifts, pads and splits a micro-batch. Rows may differ in length (unpacked data): they are padded to the
        /// longest first. <paramref name="padId"/> fills padding; padded positions continue counting. With
        /// <paramref name="isolateDocuments"/> a row's documents (a document starts where its position is 0) are kept apart:
        /// <see cref="Documents"/> says where they start, and a document's first token is no target (the token before
        /// it belongs to another document).
        /// </summary>
        public static SequenceChunk Split(IReadOnlyList<(int[] InputIds, int[] Labels, int[] PositionIds)> rows, int padId, int sequenceParallelSize, int sequenceParallelRank,
            bool isolateDocuments = false)
        {
            if (rows.Count == 0) throw new ArgumentException("A micro-batch needs at least one sequence.", nameof(rows));
            if (sequenceParallelRank < 0 || sequenceParallelRank >= sequenceParallelSize)
                throw new ArgumentOutOfRangeException(nameof(sequenceParallelRank));
            int longest = rows.Max(r => r.InputIds.Length);
            int full = (longest + sequenceParallelSize - 1) / sequenceParallelSize * sequenceParallelSize;
            int chunk = full / sequenceParallelSize;
            int start = sequenceParallelRank * chunk;
            var ids = new long[rows.Count * chunk];
            var targets = new long[rows.Count * chunk];
            var positions = new long[rows.Count * chunk];
            long maxPosition = 0;
            var starts = isolateDocuments ? new List<int[]>(rows.Count) : null;
            for (int b = 0; b < rows.Count; b++)
            {
                var (rowIds, rowLabels, rowPositions) = rows[b];
                if (rowLabels.Length != rowIds.Length || rowPositions.Length != rowIds.Length)
                    throw new ArgumentException($"Sequence {b}: input_ids, labels and position_ids differ in length.");
                starts?.Add(DocumentStarts(rowPositions, full));
                long lastPosition = -1;
                for (int t = 0; t < full; t++)
                {
                    bool real = t < rowIds.Length;
                    long position = real ? rowPositions[t] : lastPosition + 1;
                    lastPosition = position;
                    if (real) maxPosition = Math.Max(maxPosition, position);
                    if (t < start || t >= start + chunk) continue;
                    int o = b * chunk + (t - start);
                    ids[o] = real ? rowIds[t] : padId;
                    bool nextStartsADocument = isolateDocuments && t + 1 < rowIds.Length && rowPositions[t + 1] == 0;
                    targets[o] = t + 1 < rowIds.Length && !nextStartsADocument ? rowLabels[t + 1] : IgnoreIndex;
                    positions[o] = position;
                }
            }
            return new SequenceChunk(ids, targets, positions, rows.Count, chunk, full, maxPosition + 1,
                starts != null ? new DocumentLayout(starts, full) : null);
        }

        // Where positions restart at 0, and where padding begins (a segment of its own).
        private static int[] DocumentStarts(int[] positions, int full)
        {
            var starts = new List<int> { 0 };
            for (int t = 1; t < positions.Length; t++)
                if (positions[t] == 0) starts.Add(t);
            if (positions.Length < full && positions.Length > 0) starts.Add(positions.Length);
            return starts.ToArray();
        }
    }
}
