namespace XTuner.Training.Tokenization
{
    /// <summary>
    /// A token matched as a whole in raw text before the model sees it (Hugging Face's added tokens: specials such as
    /// <c>&lt;|im_end|&gt;</c>). The strip flags absorb whitespace beside the match; a single-word token matches only
    /// between non-word characters.
    /// </summary>
    internal sealed record AddedToken(string Content, int Id, bool LeftStrip = false, bool RightStrip = false, bool SingleWord = false);
}
