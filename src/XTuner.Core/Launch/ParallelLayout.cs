using System;
using System.Collections.Generic;
using System.Linq;

namespace XTuner.Core.Launch
{
    /// <summary>
    /// The rank grid world = dp x sp. Sequence-parallel groups are runs of consecutive ranks ({0..sp-1}, {sp..2sp-1}, ...)
    /// so that, with ranks numbered node by node, an SP group's all-to-alls stay inside a node; data-parallel groups are
    /// strided ({0, sp, 2sp, ...}, {1, sp+1, ...}) and hold one rank of every SP group.
    /// </summary>
    public sealed class ParallelLayout
    {
        /// <exception cref="XTunerException">A size is below 1, or <paramref name="sequenceParallelSize"/> does not divide <paramref name="worldSize"/>.</exception>
        public ParallelLayout(int worldSize, int sequenceParallelSize)
        {
            if (worldSize < 1)
                throw new XTunerException(ErrorIds.InvalidWorldSize, $"The world size must be 1 or more, not {worldSize}.");
            if (sequenceParallelSize < 1)
                throw new XTunerException(ErrorIds.InvalidSequenceParallelSize,
                    $"sequence_parallel_size must be 1 or more, not {sequenceParallelSize}.");
            if (worldSize % sequenceParallelSize != 0)
                throw new XTunerException(ErrorIds.InvalidSequenceParallelSize,
                    $"sequence_parallel_size {sequenceParallelSize} does not divide the world size {worldSize}: " +
                    $"use a divisor of {worldSize} ({string.Join(", ", Divisors(worldSize))}) or run on a multiple of {sequenceParallelSize} ranks.");
            WorldSize = worldSize;
            SequenceParallelSize = sequenceParallelSize;
        }

        public int WorldSize { get; }

        public int SequenceParallelSize { get; }

        public int DataParallelSize => WorldSize / SequenceParallelSize;

        /// <summary>Index of <paramref name="rank"/> inside its SP group (which chunk of the sequence it holds).</summary>
        public int SpRank(int rank) => Check(rank) % SequenceParallelSize;

        /// <summary>Index of <paramref name="rank"/> inside its DP group, which is also the index of its SP group.</summary>
        public int DpRank(int rank) => Check(rank) / SequenceParallelSize;

        /// <summary>The global ranks of the SP group holding <paramref name="rank"/>, ascending.</summary>
        public IReadOnlyList<int> SpGroupOf(int rank) => SpGroup(DpRank(rank));

        /// <summary>The global ranks of the DP group holding <paramref name="rank"/>, ascending.</summary>
        public IReadOnlyList<int> DpGroupOf(int rank) => DpGroup(SpRank(rank));

        /// <summary>Every SP group, in order of their first rank: the order in which every rank must create them.</summary>
        public IReadOnlyList<IReadOnlyList<int>> SpGroups =>
            Enumerable.Range(0, DataParallelSize).Select(SpGroup).ToList();

        /// <summary>Every DP group, in order of their first rank: the order in which every rank must create them.</summary>
        public IReadOnlyList<IReadOnlyList<int>> DpGroups =>
            Enumerable.Range(0, SequenceParallelSize).Select(DpGroup).ToList();

        public override string ToString() => $"world {WorldSize} = dp {DataParallelSize} x sp {SequenceParallelSize}";

        private IReadOnlyList<int> SpGroup(int dpRank) =>
            Enumerable.Range(dpRank * SequenceParallelSize, SequenceParallelSize).ToArray();

        private IReadOnlyList<int> DpGroup(int spRank) =>
            Enumerable.Range(0, DataParallelSize).Select(d => d * SequenceParallelSize + spRank).ToArray();

        private int Check(int rank)
        {
            if (rank < 0 || rank >= WorldSize)
                throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [0, {WorldSize})");
            return rank;
        }

        private static IEnumerable<int> Divisors(int n) => Enumerable.Range(1, n).Where(d => n % d == 0);
    }
}
