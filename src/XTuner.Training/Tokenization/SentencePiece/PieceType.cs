namespace XTuner.Training.Tokenization.SentencePiece
{
    /// <summary>sentencepiece's <c>ModelProto.SentencePiece.Type</c>.</summary>
    internal enum PieceType
    {
        Normal = 1,
        Unknown = 2,
        Control = 3,
        UserDefined = 4,
        Unused = 5,
        Byte = 6,
    }
}
