namespace XTuner.Training.Tokenization
{
    /// <summary>Which neighbouring symbols merge, and how urgently (lower priority merges first).</summary>
    internal interface IBpeMergeRule
    {
        bool TryMerge(in BpeSymbol left, in BpeSymbol right, out double priority, out int mergedId);
    }
}
