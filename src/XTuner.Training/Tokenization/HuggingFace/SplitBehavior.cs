namespace XTuner.Training.Tokenization.HuggingFace
{
    /// <summary>What a split does with the text a pattern matched (tokenizers' <c>SplitDelimiterBehavior</c>).</summary>
    internal enum SplitBehavior
    {
        Removed,
        Isolated,
        MergedWithPrevious,
        MergedWithNext,
        Contiguous,
    }
}
