namespace XTuner.Training.Models.Attention
{
    /// <summary>The widths an attention block is built from.</summary>
    internal readonly record struct AttentionShape(long HiddenSize, int Heads, int KeyValueHeads, int HeadDim);
}
