namespace XTuner.Training.Tokenization
{
    /// <summary>A piece of the input: an added token's id, or plain text starting at <see cref="Offset"/> in the input.</summary>
    internal readonly record struct TextSegment(string? Text, int TokenId, int Offset)
    {
        public bool IsToken => Text is null;

        public static TextSegment Token(int id, int offset) => new TextSegment(null, id, offset);

        public static TextSegment Plain(string text, int offset) => new TextSegment(text, -1, offset);
    }
}
