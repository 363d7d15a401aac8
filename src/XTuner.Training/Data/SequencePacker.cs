using System.Collections.Generic;

namespace XTuner.Training.Data
{
    /// <summary>
    /// Samples to training sequences, in order. Packing fills each sequence greedily while samples fit and pads it to
    /// exactly <c>max_length</c>; without packing each sample is its own unpadded sequence. Samples longer than
    /// <c>max_length</c> are cut to it either way.
    /// </summary>
    internal sealed class SequencePacker
    {
        private readonly int _maxLength;
        private readonly bool _pack;
        private readonly int _padId;
        private readonly List<PackedSequence> _sequences = new List<PackedSequence>();
        private readonly List<TokenizedSample> _pending = new List<TokenizedSample>();
        private int _pendingLength;

        public SequencePacker(int maxLength, bool pack, int padId)
        {
            _maxLength = maxLength;
            _pack = pack;
            _padId = padId;
        }

        public long Samples { get; private set; }
        public long Tokens { get; private set; }
        public long TargetTokens { get; private set; }
        public long TruncatedSamples { get; private set; }
        public long PaddingTokens { get; private set; }

        public void Add(TokenizedSample sample)
        {
            if (sample.Length > _maxLength)
            {
                sample = new TokenizedSample(sample.InputIds[.._maxLength], sample.Labels[.._maxLength]);
                TruncatedSamples++;
            }
            Samples++;
            Tokens += sample.Length;
            foreach (var label in sample.Labels)
                if (label != TokenizedSample.IgnoreIndex)
                    TargetTokens++;

            if (_pack && _pendingLength + sample.Length > _maxLength)
                Flush();
            _pending.Add(sample);
            _pendingLength += sample.Length;
            if (!_pack)
                Flush();
        }

        /// <summary>The sequences, the last partly filled one included.</summary>
        public List<PackedSequence> Finish()
        {
            Flush();
            return _sequences;
        }

        private void Flush()
        {
            if (_pending.Count == 0)
                return;
            var length = _pack ? _maxLength : _pendingLength;
            var ids = new int[length];
            var labels = new int[length];
            var positions = new int[length];
            var documents = new int[_pending.Count];
            var offset = 0;
            for (var d = 0; d < _pending.Count; d++)
            {
                var sample = _pending[d];
                sample.InputIds.CopyTo(ids, offset);
                sample.Labels.CopyTo(labels, offset);
                for (var t = 0; t < sample.Length; t++)
                    positions[offset + t] = t;
                documents[d] = sample.Length;
                offset += sample.Length;
            }
            var last = _pending[^1].Length;
            for (var t = offset; t < length; t++)
            {
                ids[t] = _padId;
                labels[t] = TokenizedSample.IgnoreIndex;
                positions[t] = last + (t - offset);
            }
            PaddingTokens += length - offset;
            _sequences.Add(new PackedSequence(ids, labels, positions, documents));
            _pending.Clear();
            _pendingLength = 0;
        }
    }
}
