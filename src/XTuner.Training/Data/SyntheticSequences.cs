using System;
using System.Collections;
using System.Collections.Generic;

namespace XTuner.Training.Data
{
    /// <summary>
    /// Seeded random sequences for benchmarks, made on demand from (seed, index) so that a million-token run holds no
    /// dataset in memory and every rank sees the same tokens. Every token is a target. Each sequence is one document,
    /// or, with a document length, documents of seeded lengths between half and 1.5 times it packed end to end (the
    /// last one cut at the sequence's end), with positions restarting at each: the shape of packed SFT data.
    /// </summary>
    public sealed class SyntheticSequences : IReadOnlyList<PackedSequence>
    {
        private const ulong TokenPurpose = 0x5359_4E54_4845_5449UL;

        private readonly int _length;
        private readonly int _vocabSize;
        private readonly int _seed;
        private readonly int _documentLength;

        /// <param name="count">Sequences.</param>
        /// <param name="length">Tokens in each.</param>
        /// <param name="vocabSize">Token ids are drawn below it.</param>
        /// <param name="seed">The same seed gives the same sequences.</param>
        /// <param name="documentLength">Mean document length; 0 makes each sequence one document.</param>
        public SyntheticSequences(int count, int length, int vocabSize, int seed, int documentLength = 0)
        {
            if (documentLength < 0) throw new ArgumentOutOfRangeException(nameof(documentLength));
            if (count < 0) throw new ArgumentOutOfRangeException(nameof(count));
            if (length < 1) throw new ArgumentOutOfRangeException(nameof(length));
            if (vocabSize < 1) throw new ArgumentOutOfRangeException(nameof(vocabSize));
            Count = count;
            _length = length;
            _vocabSize = vocabSize;
            _seed = seed;
            _documentLength = documentLength;
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
                for (var t = 0; t < _length; t++)
                    ids[t] = random.NextBelow(_vocabSize);
                var documents = new List<int>();
                for (int left = _length; left > 0;)
                {
                    int next = _documentLength == 0 ? left : Math.Min(left, Math.Max(1, _documentLength / 2 + random.NextBelow(_documentLength + 1)));
                    documents.Add(next);
                    left -= next;
                }
                var positions = new int[_length];
                PackedSequence.Lay(ids, (int[])ids.Clone(), positions, documents.ToArray(), 0);
                return new PackedSequence(ids, (int[])ids.Clone(), positions, documents.ToArray());
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
