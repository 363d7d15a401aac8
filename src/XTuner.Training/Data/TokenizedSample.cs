namespace XTuner.Training.Data
{
    /// <summary>
    /// One sample as token ids and labels aligned with them as in transformers: <c>Labels[t]</c> is the target at
    /// position t, <see cref="IgnoreIndex"/> where there is none. The causal shift happens in the loss, not here.
    /// </summary>
    public sealed record TokenizedSample(int[] InputIds, int[] Labels)
    {
        /// <summary>The label of positions without a target (PyTorch's cross-entropy <c>ignore_index</c>).</summary>
        public const int IgnoreIndex = -100;

        /// <summary>Tokens in the sample.</summary>
        public int Length => InputIds.Length;
    }
}
