using System;
using System.Collections;
using System.Collections.Generic;

namespace XTuner.Training.Data
{
    /// <summary>
    /// Seeded random sequences for benchmarks, made on demand from (seed, index) so that a million-token run holds no
    /// dataset in memory and every rank sees the same tokens. Every token is a target; one document per sequence.
    /// </summary>
    public sealed class SyntheticSequences : IReadOnlyList<PackedSequence>
    {
        private const ulong TokenPurpose = 0x5359_4E54_4845_5449UL;

        private readonly int _length;
        private readonly int _vocabSize;
        private readonly int _seed;

        public SyntheticSequences(int count, int length, int vocabSize, int seed)
        {
            if (count < 0) throw new ArgumentOutOfRangeException(nameof(count));
            if (length < 1) throw new ArgumentOutOfRangeException(nameof(length));
            if (vocabSize < 1) throw new ArgumentOutOfRangeException(nameof(vocabSize));
            Count = count;
            _length = length;
            _vocabSize = vocabSize;
            _seed = seed;
        }

        public int Count { get; }

        public PackedSequence this[int index]
        {
            get
            {
                if (index < 0 || index >= Count)
                    throw new ArgumentOutOfRangeException(nameof(index));
                var random = new DeterministicRandom(_seed, index, TokenPurpose);
                var ids = new int[_length];
                var positions = new int[_length];
                for (var t = 0; t < _length; t++)
                {
                    ids[t] = random.NextBelow(_vocabSize);
                    positions[t] = t;
                }
                return new PackedSequence(ids, (int[])ids.Clone(), positions, new[] { _length });
            }
        }

        public IEnumerator<PackedSequence> GetEnumerator()
        {
            for (var i = 0; i < Count; i++)
                yield return this[i];
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
