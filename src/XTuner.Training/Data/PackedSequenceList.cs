using System.Collections.Generic;

namespace XTuner.Training.Data
{
    /// <summary>Sequences kept in memory as they are packed (no dataset cache: <c>dataset_cache_dir: none</c>, tests, evaluation).</summary>
    internal sealed class PackedSequenceList : ISequenceSink
    {
        private readonly int _padId;

        public PackedSequenceList(int padId) => _padId = padId;

        public List<PackedSequence> Sequences { get; } = new List<PackedSequence>();

        public void Add(IReadOnlyList<TokenizedSample> documents, int length) =>
            Sequences.Add(PackedSequence.FromDocuments(documents, length, _padId));
    }
}
