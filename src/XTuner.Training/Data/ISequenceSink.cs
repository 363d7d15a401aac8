using System.Collections.Generic;

namespace XTuner.Training.Data
{
    /// <summary>Where <see cref="SequencePacker"/> puts each sequence it closes: a list in memory, or a dataset cache.</summary>
    internal interface ISequenceSink
    {
        /// <summary>One sequence: <paramref name="documents"/> end to end, then padding up to <paramref name="length"/> tokens.</summary>
        void Add(IReadOnlyList<TokenizedSample> documents, int length);
    }
}
