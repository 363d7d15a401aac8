using System.Collections.Generic;
using System.Linq;
using XTuner.Training.Tokenization;
using Xunit;

namespace XTuner.Training.Tests.Tokenization
{
    /// <summary>Every reference text of the fixtures encodes to exactly the ids Hugging Face tokenizers / sentencepiece gave.</summary>
    public class ReferenceIdsTests
    {
        public static IEnumerable<object[]> BpeCases() => Enumerable.Range(0, Fixtures.References("tokenizer-bpe").Count).Select(i => new object[] { i });

        public static IEnumerable<object[]> SentencePieceCases() => Enumerable.Range(0, Fixtures.References("tokenizer-sentencepiece").Count).Select(i => new object[] { i });

        [Theory]
        [MemberData(nameof(BpeCases))]
        public void ByteLevelBpeTokenizerJsonMatchesHuggingFace(int index)
        {
            var (text, ids) = Fixtures.References("tokenizer-bpe")[index];
            var tokenizer = TokenizerLoader.Load(Fixtures.BpeJson);
            Assert.Equal(ids, tokenizer.Encode(text));
        }

        [Theory]
        [MemberData(nameof(SentencePieceCases))]
        public void SentencePieceModelMatchesSentencePiece(int index)
        {
            var (text, ids) = Fixtures.References("tokenizer-sentencepiece")[index];
            var tokenizer = TokenizerLoader.Load(Fixtures.SentencePieceModel);
            Assert.Equal(ids, tokenizer.Encode(text));
        }

        [Fact]
        public void ByteLevelBpeDecodesReferenceIdsBackToTheirText()
        {
            var tokenizer = TokenizerLoader.Load(Fixtures.BpeJson);
            foreach (var (text, ids) in Fixtures.References("tokenizer-bpe"))
                Assert.Equal(text, tokenizer.Decode(ids));
        }

        [Fact]
        public void SentencePieceDecodesReferenceIdsToTheNormalizedText()
        {
            var tokenizer = TokenizerLoader.Load(Fixtures.SentencePieceModel);
            var references = Fixtures.References("tokenizer-sentencepiece");
            Assert.Equal("Hello, world!", tokenizer.Decode(references[0].Ids));
            Assert.Equal("unicode: 千亿参数，百万序列 ✓ émigré", tokenizer.Decode(references[3].Ids));
            // The model removes leading and repeated spaces (remove_extra_whitespaces), so they do not come back.
            Assert.Equal("leading spaces and\ttabs\nnew lines", tokenizer.Decode(references[2].Ids));
            Assert.Equal("def f(x):\n return x ** 2 # comment", tokenizer.Decode(references[4].Ids));
        }
    }
}
