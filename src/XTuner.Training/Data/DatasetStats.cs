namespace XTuner.Training.Data
{
    /// <summary>What building a dataset read and made.</summary>
    public sealed class DatasetStats
    {
        /// <summary>Samples read and kept (lines, or synthetic sequences).</summary>
        public long Samples { get; init; }

        /// <summary>Training sequences made from them.</summary>
        public long Sequences { get; init; }

        /// <summary>Sample tokens in the sequences (after truncation; padding not counted).</summary>
        public long Tokens { get; init; }

        /// <summary>Positions whose label is a target (not -100).</summary>
        public long TargetTokens { get; init; }

        /// <summary>Malformed lines skipped because <c>skip_bad_lines</c> is set.</summary>
        public long SkippedLines { get; init; }

        /// <summary>Samples longer than <c>max_length</c>, cut to it.</summary>
        public long TruncatedSamples { get; init; }

        /// <summary>Pad tokens added to fill packed sequences to <c>max_length</c>.</summary>
        public long PaddingTokens { get; init; }

        public override string ToString() =>
            $"{Samples} samples -> {Sequences} sequences, {Tokens} tokens ({TargetTokens} targets, {PaddingTokens} padding), " +
            $"{TruncatedSamples} truncated, {SkippedLines} bad lines skipped";
    }
}
