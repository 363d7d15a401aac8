namespace XTuner.Training.Models.Attention
{
    /// <summary>
    /// What a query may attend to besides causality: only its own document (<see cref="Documents"/>), and only the
    /// last <see cref="Window"/> tokens including itself (a sliding window: key j is seen by query i when i - W &lt; j &lt;= i).
    /// </summary>
    /// <param name="Documents">The documents of the whole sequence, or null for one document per row.</param>
    /// <param name="Window">The sliding window, or null for full causal attention.</param>
    public sealed record AttentionMask(DocumentLayout? Documents, int? Window)
    {
        public static AttentionMask Causal { get; } = new AttentionMask(null, null);

        /// <summary>Plain causal attention over each whole row.</summary>
        public bool IsCausalOnly => (Documents is null || Documents.IsSingleSegment) && Window is null;
    }
}
