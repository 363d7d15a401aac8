namespace XTuner.Training.Tokenization
{
    /// <summary>
    /// One symbol of a word being merged: its id and the span of initial units it covers (characters for SentencePiece,
    /// initial symbols for Hugging Face BPE). A merged-away symbol has length 0.
    /// </summary>
    internal struct BpeSymbol
    {
        public int Id;
        public int Start;
        public int Length;
        public int Prev;
        public int Next;
    }
}
