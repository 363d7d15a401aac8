using System;
using System.Collections.Generic;
using XTuner.Core;

namespace XTuner.Training.Data
{
    /// <summary>
    /// Which sequences a data-parallel rank trains on. Each epoch is a permutation drawn from (seed, epoch), identical in
    /// every process; global batches are <c>batchSize x dataParallelSize</c> consecutive entries of it and rank r takes
    /// slice r, so the union over ranks is what one process with the whole global batch would see.
    /// </summary>
    public sealed class BatchSampler
    {
        private const ulong ShufflePurpose = 0x5348_5546_464C_4531UL;

        private readonly int _count;
        private readonly int _batchSize;
        private readonly int _rank;
        private readonly int _globalBatch;
        private readonly int _seed;
        private readonly bool _shuffle;
        private int _cachedEpoch = -1;
        private int[] _order = Array.Empty<int>();

        /// <param name="sequenceCount">Sequences in the dataset.</param>
        /// <param name="batchSize">Sequences per rank per micro-batch.</param>
        /// <param name="dataParallelRank">This rank's index among the data-parallel groups.</param>
        /// <param name="dataParallelSize">Data-parallel groups (world / sequence_parallel_size).</param>
        /// <param name="seed">The config's seed.</param>
        /// <param name="shuffle">Permute each epoch; otherwise file order.</param>
        /// <param name="dropLast">Drop the last, incomplete global batch; otherwise fill it from the epoch's start.</param>
        public BatchSampler(int sequenceCount, int batchSize, int dataParallelRank, int dataParallelSize, int seed, bool shuffle, bool dropLast = true)
        {
            if (sequenceCount < 0) throw new ArgumentOutOfRangeException(nameof(sequenceCount));
            if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize));
            if (dataParallelSize < 1) throw new ArgumentOutOfRangeException(nameof(dataParallelSize));
            if (dataParallelRank < 0 || dataParallelRank >= dataParallelSize) throw new ArgumentOutOfRangeException(nameof(dataParallelRank));
            _count = sequenceCount;
            _batchSize = batchSize;
            _rank = dataParallelRank;
            _globalBatch = batchSize * dataParallelSize;
            _seed = seed;
            _shuffle = shuffle;
            BatchesPerEpoch = dropLast ? sequenceCount / _globalBatch : (sequenceCount + _globalBatch - 1) / _globalBatch;
            if (BatchesPerEpoch == 0)
                throw new XTunerException(ErrorIds.InvalidConfig,
                    $"{sequenceCount} sequence(s) cannot fill one global batch of {_globalBatch} (batch_size {batchSize} x {dataParallelSize} data-parallel ranks); " +
                    "add data or lower batch_size.");
        }

        /// <summary>Batches each rank draws per epoch.</summary>
        public int BatchesPerEpoch { get; }

        /// <summary>The sequence indices of this rank's batch <paramref name="index"/> in <paramref name="epoch"/>.</summary>
        public IReadOnlyList<int> Batch(int epoch, int index)
        {
            if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch));
            if (index < 0 || index >= BatchesPerEpoch)
                throw new ArgumentOutOfRangeException(nameof(index), $"Batch {index} is outside 0..{BatchesPerEpoch - 1}.");
            var order = Order(epoch);
            var batch = new int[_batchSize];
            var start = (long)index * _globalBatch + (long)_rank * _batchSize;
            for (var i = 0; i < _batchSize; i++)
                batch[i] = order[(int)((start + i) % _count)];
            return batch;
        }

        private int[] Order(int epoch)
        {
            if (epoch == _cachedEpoch)
                return _order;
            var order = new int[_count];
            for (var i = 0; i < _count; i++)
                order[i] = i;
            if (_shuffle)
            {
                var random = new DeterministicRandom(_seed, epoch, ShufflePurpose);
                for (var i = _count - 1; i > 0; i--)
                {
                    var j = random.NextBelow(i + 1);
                    (order[i], order[j]) = (order[j], order[i]);
                }
            }
            _cachedEpoch = epoch;
            _order = order;
            return order;
        }
    }
}
