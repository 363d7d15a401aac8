namespace XTuner.Training.Data.Cache
{
    /// <summary>
    /// The flat binary files of a dataset cache folder, all little-endian. Only the documents' tokens are stored; padding
    /// and position ids follow from the document lengths (<see cref="PackedSequence.Lay"/>).
    /// </summary>
    internal static class CacheFiles
    {
        /// <summary>Every document's token ids end to end: uint16 when they fit, else int32 (manifest token_bytes).</summary>
        public const string InputIds = "input_ids.bin";

        /// <summary>One bit per stored token (least significant first): 1 when its label is the token, 0 for -100.</summary>
        public const string Targets = "targets.bin";

        /// <summary>int32 labels, one per stored token, for tokenized data (whose labels need not be the tokens).</summary>
        public const string Labels = "labels.bin";

        /// <summary>int32 length of every document (sample) in order.</summary>
        public const string Documents = "documents.bin";

        /// <summary>int64 index of each sequence's first stored token, and the total at the end (sequences + 1 entries).</summary>
        public const string SequenceTokens = "sequence_tokens.bin";

        /// <summary>int64 index of each sequence's first document, and the total at the end (sequences + 1 entries).</summary>
        public const string SequenceDocuments = "sequence_documents.bin";

        /// <summary>uint64 checksum of each sequence as the trainer gets it (<see cref="SequenceChecksum"/>).</summary>
        public const string Checksums = "checksums.bin";

        /// <summary>manifest labels value: labels from <see cref="Targets"/>.</summary>
        public const string MaskLabels = "mask";

        /// <summary>manifest labels value: labels from <see cref="Labels"/>.</summary>
        public const string IdLabels = "ids";

        /// <summary>
        /// The small files that say where everything is. Opening a cache checks them whole against the manifest's
        /// checksums; the large token files are checked sequence by sequence as they are read.
        /// </summary>
        public static bool IsIndex(string name) =>
            name is Documents or SequenceTokens or SequenceDocuments or Checksums;
    }
}
