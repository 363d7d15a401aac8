using System.Collections.Generic;

namespace XTuner.Training.Tokenization
{
    /// <summary>
    /// Text to token ids and back, as Hugging Face <c>tokenizers</c> / <c>sentencepiece</c> do for a checkpoint.
    /// </summary>
    public interface ITextTokenizer
    {
        /// <summary>Ids run from 0 to <c>VocabSize - 1</c>, added and special tokens included.</summary>
        int VocabSize { get; }

        /// <summary>Beginning-of-sequence id, if the tokenizer has one.</summary>
        int? BosTokenId { get; }

        /// <summary>End-of-sequence id, if the tokenizer has one.</summary>
        int? EosTokenId { get; }

        /// <summary>Padding id, if the tokenizer has one.</summary>
        int? PadTokenId { get; }

        /// <summary>
        /// Token ids of <paramref name="text"/>. Never adds bos/eos; special-token strings in the text become their ids,
        /// as Hugging Face does for added tokens.
        /// </summary>
        IReadOnlyList<int> Encode(string text);

        /// <summary>The text of <paramref name="ids"/>, special tokens written out.</summary>
        string Decode(IEnumerable<int> ids);

        /// <summary>The id of a whole token such as <c>&lt;|im_start|&gt;</c> or <c>[INST]</c>; null if absent.</summary>
        int? TokenToId(string token);

        /// <summary>Writes the files from which <c>transformers</c> loads this tokenizer into <paramref name="directory"/>.</summary>
        void SaveTo(string directory);
    }
}
