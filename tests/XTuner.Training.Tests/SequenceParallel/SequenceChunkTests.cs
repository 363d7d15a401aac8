using System.Collections.Generic;
using System.Linq;
using XTuner.Training.SequenceParallel;
using Xunit;

namespace XTuner.Training.Tests.SequenceParallel
{
    public class SequenceChunkTests
    {
        private static (int[], int[], int[]) Row(int length, int firstIgnored = 0, int docStart = 0)
        {
            var ids = Enumerable.Range(10, length).ToArray();
            var labels = ids.Select((x, i) => i < firstIgnored ? -100 : x).ToArray();
            var positions = Enumerable.Range(0, length).Select(i => i < docStart ? i : i - docStart).ToArray();
            return (ids, labels, positions);
        }

        [Theory]
        [InlineData(1)]
        [InlineData(2)]
        [InlineData(3)]
        [InlineData(4)]
        public void ChunksTogetherHoldEveryShiftedTarget(int sp)
        {
            var rows = new List<(int[], int[], int[])> { Row(11, firstIgnored: 3), Row(11, docStart: 6) };
            var chunks = Enumerable.Range(0, sp).Select(r => SequenceChunk.Split(rows, padId: 0, sp, r)).ToList();
            int full = chunks[0].FullLength;
            Assert.Equal(0, full % sp);
            Assert.True(full >= 11 && full < 11 + sp);
            for (int b = 0; b < 2; b++)
            {
                var targets = chunks.SelectMany(c => c.Targets.Skip(b * c.ChunkLength).Take(c.ChunkLength)).ToArray();
                var positions = chunks.SelectMany(c => c.PositionIds.Skip(b * c.ChunkLength).Take(c.ChunkLength)).ToArray();
                var (ids, labels, pos) = rows[b];
                for (int t = 0; t < full; t++)
                {
                    long expected = t + 1 < 11 ? labels[t + 1] : -100;
                    Assert.Equal(expected, targets[t]);
                    if (t < 11) Assert.Equal(pos[t], positions[t]);
                }
            }
            // 10 shifted targets per row, minus the ignored ones: 10 - 2 (labels 1, 2 ignored) + 10.
            Assert.Equal(18, chunks.Sum(c => c.ValidTargets));
        }

        [Fact]
        public void PaddingUsesThePadIdAndContinuesPositions()
        {
            var c = SequenceChunk.Split(new List<(int[], int[], int[])> { Row(5) }, padId: 7, sequenceParallelSize: 4, sequenceParallelRank: 3);
            Assert.Equal(8, c.FullLength);
            Assert.Equal(new long[] { 7, 7 }, c.InputIds);
            Assert.Equal(new long[] { -100, -100 }, c.Targets);
            Assert.Equal(new long[] { 6, 7 }, c.PositionIds);
            Assert.Equal(5, c.RopeSequenceLength);
        }

        [Fact]
        public void UnequalRowsArePaddedToTheLongest()
        {
            var c = SequenceChunk.Split(new List<(int[], int[], int[])> { Row(3), Row(6) }, padId: 0, sequenceParallelSize: 1, sequenceParallelRank: 0);
            Assert.Equal(6, c.ChunkLength);
            Assert.Equal(new long[] { 10, 11, 12, 0, 0, 0 }, c.InputIds.Take(6));
            Assert.Equal(new long[] { 11, 12, -100, -100, -100, -100 }, c.Targets.Take(6));
        }
    

        [Theory]
        [InlineData(1)]
        [InlineData(3)]
        public void IsolatedDocumentsLoseTheTargetAcrossTheirBoundaryAndShareOneLayoutOnEveryRank(int sp)
        {
            // Row 0: documents at 0 and 6 (positions restart); row 1: one document of 9 tokens, then padding to 11.
            var rows = new List<(int[], int[], int[])> { Row(11, docStart: 6), Row(9) };
            var chunks = Enumerable.Range(0, sp).Select(r => SequenceChunk.Split(rows, padId: 0, sp, r, isolateDocuments: true)).ToList();
            int full = chunks[0].FullLength;
            var targets = chunks.SelectMany(c => c.Targets.Take(c.ChunkLength)).ToArray();
            // The last token of document 1 (t = 5) must not predict document 2's first token; every other target stays.
            for (int t = 0; t < full; t++)
                Assert.Equal(t == 5 || t >= 10 ? -100 : rows[0].Item2[t + 1], targets[t]);
            foreach (var c in chunks)
            {
                // Padding to a multiple of sp is a segment of its own.
                var row0 = full > 11 ? new[] { (0, 6), (6, 5), (11, full - 11) } : new[] { (0, 6), (6, 5) };
                Assert.Equal(row0, c.Documents!.Segments(0).ToArray());
                Assert.Equal(new[] { (0, 9), (9, full - 9) }, c.Documents.Segments(1).ToArray());
            }
            var plain = SequenceChunk.Split(rows, padId: 0, 1, 0);
            Assert.Null(plain.Documents);
            Assert.Equal(rows[0].Item2[6], plain.Targets[5]);
        }
    }
}
