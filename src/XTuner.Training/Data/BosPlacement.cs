namespace XTuner.Training.Data
{
    /// <summary>Where a prompt template puts the tokenizer's bos token.</summary>
    public enum BosPlacement
    {
        /// <summary>Never (ChatML as Qwen2 and Yi render it).</summary>
        None,
        /// <summary>Once, before the first turn.</summary>
        FirstTurn,
        /// <summary>Before every turn that follows an eos (XTuner's rule for templates that end turns with eos).</summary>
        EveryTurn,
    }
}
