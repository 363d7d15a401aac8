using System.IO;
using System.Text;
using System.Linq;
using XTuner.Training.Tokenization;
using Xunit;

namespace XTuner.Training.Tests.Tokenization
{
    public class ByteTokenizerTests : TempFolderTest
    {
        private static readonly string[] Texts =
        {
            "", "Hello, world!", "  two  spaces\tand\nlines ", "unicode: 千亿参数 ✓ émigré 🙂",
            "<s>special</s> tokens <pad> inside", "almost <s special", "'s 're 1234567 ** ##",
        };

        [Fact]
        public void IdsAreUtf8BytesAndSpecialTokensFollow()
        {
            var tokenizer = new ByteTokenizer();
            Assert.Equal(259, tokenizer.VocabSize);
            Assert.Equal((256, 257, 258), (tokenizer.BosTokenId, tokenizer.EosTokenId, tokenizer.PadTokenId));
            Assert.Equal(new[] { 0x68, 0xC3, 0xA9 }, tokenizer.Encode("hé"));
            Assert.Equal(new[] { 256, 0x61, 257, 258 }, tokenizer.Encode("<s>a</s><pad>"));
        }

        [Fact]
        public void DecodeInvertsEncode()
        {
            var tokenizer = new ByteTokenizer();
            foreach (var text in Texts)
                Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        }

        [Fact]
        public void TokenToIdKnowsSpecialTokensAndSingleBytes()
        {
            var tokenizer = new ByteTokenizer();
            Assert.Equal(257, tokenizer.TokenToId("</s>"));
            Assert.Equal(0x41, tokenizer.TokenToId("A"));
            Assert.Null(tokenizer.TokenToId("<|im_start|>"));
        }

        [Fact]
        public void SavedTokenizerJsonLoadsBackToIdenticalIds()
        {
            var folder = TempFolder();
            var tokenizer = new ByteTokenizer();
            tokenizer.SaveTo(folder);

            var reloaded = TokenizerLoader.Load(folder);
            Assert.IsNotType<ByteTokenizer>(reloaded);
            Assert.Equal(259, reloaded.VocabSize);
            Assert.Equal((256, 257, 258), (reloaded.BosTokenId, reloaded.EosTokenId, reloaded.PadTokenId));
            var all = new StringBuilder();
            for (var c = 1; c < 0x800; c++)
                all.Append((char)c);
            foreach (var text in new[] { all.ToString() }.Concat(Texts))
            {
                Assert.Equal(tokenizer.Encode(text), reloaded.Encode(text));
                Assert.Equal(text, reloaded.Decode(reloaded.Encode(text)));
            }
        }

        [Fact]
        public void SaveWritesTheFilesTransformersReads()
        {
            var folder = TempFolder();
            new ByteTokenizer().SaveTo(folder);
            var config = File.ReadAllText(Path.Combine(folder, "tokenizer_config.json"));
            Assert.Contains("\"tokenizer_class\": \"PreTrainedTokenizerFast\"", config);
            Assert.Contains("\"eos_token\": \"</s>\"", config);
            Assert.Contains("\"pad_token\": \"<pad>\"", File.ReadAllText(Path.Combine(folder, "special_tokens_map.json")));
            var json = File.ReadAllText(Path.Combine(folder, "tokenizer.json"));
            Assert.Contains("\"Ġ\": 32", json);
            Assert.Contains("\"merges\": []", json);
        }
    }
}
