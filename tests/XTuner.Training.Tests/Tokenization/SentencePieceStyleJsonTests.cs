using XTuner.Training.Tokenization;
using Xunit;
using static XTuner.Training.Tests.Tokenization.SentencePieceStyleJson;

namespace XTuner.Training.Tests.Tokenization
{
    /// <summary>
    /// tokenizer.json converted from SentencePiece: the ▁ prefix, merges by rank, byte fallback and unk. Expected ids are
    /// worked out by hand from the merge list in <see cref="SentencePieceStyleJson"/> (and agree with Hugging Face
    /// tokenizers 0.23 on the same files).
    /// </summary>
    public class SentencePieceStyleJsonTests : TempFolderTest
    {
        [Fact]
        public void MetaspacePrefixesTheTextAndMergesByRank()
        {
            var tokenizer = TokenizerLoader.Load(WriteMetaspace(TempFolder()));
            // "▁hello▁world!": ▁h, ll, ▁he, llo, ▁hello, ▁w, or, ▁wor; "l" and "d" stay; "!" has no piece: byte 0x21.
            Assert.Equal(new[] { SpaceHello, SpaceWor, L, D, Byte(0x21) }, tokenizer.Encode("hello world!"));
        }

        [Fact]
        public void MetaspaceFallsBackToUtf8BytesForCharactersWithoutPieces()
        {
            var tokenizer = TokenizerLoader.Load(WriteMetaspace(TempFolder()));
            // é is C3 A9; it separates ▁h from llo.
            Assert.Equal(new[] { SpaceH, Byte(0xC3), Byte(0xA9), Llo }, tokenizer.Encode("héllo"));
        }

        [Fact]
        public void MetaspaceDoesNotAddASecondPrefixToTextStartingWithASpace()
        {
            var tokenizer = TokenizerLoader.Load(WriteMetaspace(TempFolder()));
            // "  hi" -> "▁▁hi"; ▁h merges at the second ▁; "i" is byte 0x69.
            Assert.Equal(new[] { Space, SpaceH, Byte(0x69) }, tokenizer.Encode("  hi"));
        }

        [Fact]
        public void MetaspaceFirstSchemePrefixesOnlyTheStartOfTheInput()
        {
            var tokenizer = TokenizerLoader.Load(WriteMetaspace(TempFolder()));
            // No ▁ after the special token: "hello" is h e llo ("h e" is no merge).
            Assert.Equal(new[] { Bos, H, E, Llo }, tokenizer.Encode("<s>hello"));
            Assert.Equal(new[] { SpaceHello, Eos }, tokenizer.Encode("hello</s>"));
        }

        [Fact]
        public void MetaspaceDecodesBytesAndDropsThePrefix()
        {
            var tokenizer = TokenizerLoader.Load(WriteMetaspace(TempFolder()));
            Assert.Equal("hello world!", tokenizer.Decode(tokenizer.Encode("hello world!")));
            Assert.Equal("héllo", tokenizer.Decode(tokenizer.Encode("héllo")));
        }

        [Fact]
        public void PrependReplaceNormalizerPrefixesEveryStretchBetweenSpecialTokens()
        {
            var tokenizer = TokenizerLoader.Load(WriteLegacy(TempFolder()));
            Assert.Equal(new[] { SpaceHello, SpaceWor, L, D }, tokenizer.Encode("hello world"));
            Assert.Equal(new[] { Bos, SpaceHello }, tokenizer.Encode("<s>hello"));
        }

        [Fact]
        public void WithoutByteFallbackUnknownCharactersFuseIntoOneUnk()
        {
            var tokenizer = TokenizerLoader.Load(WriteLegacy(TempFolder()));
            Assert.Equal(new[] { SpaceHello, Unk }, tokenizer.Encode("hello!!"));
            Assert.Equal(new[] { SpaceHello, Unk, SpaceH }, tokenizer.Encode("hello!! h"));
        }

        [Fact]
        public void LlamaDecoderChainStripsTheLeadingSpace()
        {
            var tokenizer = TokenizerLoader.Load(WriteLegacy(TempFolder()));
            Assert.Equal("hello world", tokenizer.Decode(new[] { SpaceHello, SpaceWor, L, D }));
            Assert.Equal("hello!", tokenizer.Decode(new[] { SpaceHello, Byte(0x21) }));
        }

        [Fact]
        public void SpecialTokensComeFromConventionalNamesWithoutATokenizerConfig()
        {
            var tokenizer = TokenizerLoader.Load(WriteMetaspace(TempFolder()));
            Assert.Equal(Bos, tokenizer.BosTokenId);
            Assert.Equal(Eos, tokenizer.EosTokenId);
            Assert.Null(tokenizer.PadTokenId);
            Assert.Equal(275, tokenizer.VocabSize);
        }
    }
}
