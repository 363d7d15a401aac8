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
        private readonly ISequenceSink _sink;
        private readonly List<TokenizedSample> _pending = new List<TokenizedSample>();
        private int _pendingLength;

        public SequencePacker(int maxLength, bool pack, ISequenceSink sink)
        {
            _maxLength = maxLength;
            _pack = pack;
            _sink = sink;
        }

        public long Samples { get; private set; }
        public long Sequences { get; private set; }
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

        /// <summary>Closes the last, partly filled sequence.</summary>
        public void Finish() => Flush();

        private void Flush()
        {
            if (_pending.Count == 0)
                return;
            var length = _pack ? _maxLength : _pendingLength;
            _sink.Add(_pending, length);
            PaddingTokens += length - _pendingLength;
            Sequences++;
            _pending.Clear();
            _pendingLength = 0;
        }
    }
}
