using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using XTuner.Training.Tokenization;
using Xunit;

namespace XTuner.Training.Tests.Tokenization
{
    public class HuggingFaceTokenizerTests : TempFolderTest
    {
        [Fact]
        public void AddedTokensInTextBecomeTheirIds()
        {
            var tokenizer = TokenizerLoader.Load(Fixtures.BpeJson);
            var hello = tokenizer.Encode("Hello");
            var ids = tokenizer.Encode("<|im_start|>Hello<|im_end|><|endoftext|>");
            Assert.Equal(new[] { 1 }, ids.Take(1));
            Assert.Equal(hello, ids.Skip(1).Take(hello.Count));
            Assert.Equal(new[] { 2, 0 }, ids.Skip(1 + hello.Count));
        }

        [Fact]
        public void WithoutTokenizerConfigEosIsTheConventionalEndOfTextToken()
        {
            var tokenizer = TokenizerLoader.Load(Fixtures.BpeJson);
            Assert.Equal(1024, tokenizer.VocabSize);
            Assert.Equal(0, tokenizer.EosTokenId);
            Assert.Null(tokenizer.BosTokenId);
            Assert.Null(tokenizer.PadTokenId);
            Assert.Equal(1, tokenizer.TokenToId("<|im_start|>"));
            Assert.Null(tokenizer.TokenToId("<|no such token|>"));
        }

        [Fact]
        public void TokenizerConfigBesideTheFileNamesTheSpecialTokens()
        {
            var folder = CopyOfBpeFixture();
            File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"),
                "{\"bos_token\": null, \"eos_token\": {\"content\": \"<|im_end|>\"}, \"pad_token\": \"<|endoftext|>\"}");
            var tokenizer = TokenizerLoader.Load(folder);
            Assert.Null(tokenizer.BosTokenId);
            Assert.Equal(2, tokenizer.EosTokenId);
            Assert.Equal(0, tokenizer.PadTokenId);
        }

        [Fact]
        public void SaveCopiesTheTokenizerAndItsCompanions()
        {
            var folder = CopyOfBpeFixture();
            File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), "{\"eos_token\": \"<|im_end|>\"}");
            File.WriteAllText(Path.Combine(folder, "generation_config.json"), "{\"eos_token_id\": 2}");
            var output = TempFolder();

            TokenizerLoader.Load(folder).SaveTo(output);

            Assert.Equal(File.ReadAllBytes(Fixtures.BpeJson), File.ReadAllBytes(Path.Combine(output, "tokenizer.json")));
            Assert.True(File.Exists(Path.Combine(output, "tokenizer_config.json")));
            Assert.True(File.Exists(Path.Combine(output, "generation_config.json")));
            Assert.False(File.Exists(Path.Combine(output, "special_tokens_map.json")));
            Assert.Equal(2, TokenizerLoader.Load(output).EosTokenId);
        }

        [Fact]
        public void MergesNeverCrossTheLlama3SplitOfDigitsIntoTriples()
        {
            // Byte vocabulary plus one merge "3 4": the Llama 3 pattern cuts "12345" into "123" "45", so it cannot apply.
            // Expected ids in this file were checked against Hugging Face tokenizers 0.23.
            var tokenizer = ByteLevelWithMerge34(new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split",
                        ["pattern"] = new JsonObject { ["Regex"] = Llama3Pattern },
                        ["behavior"] = "Isolated",
                        ["invert"] = false,
                    },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
            });
            Assert.Equal(new[] { 0x31, 0x32, 0x33, 0x34, 0x35 }, tokenizer.Encode("12345"));
            Assert.Equal(new[] { 0x61, 0x31, 0x32, 0x33, 0x34 }, tokenizer.Encode("a1234"));
        }

        [Fact]
        public void Gpt2ByteLevelRegexKeepsDigitRunsTogether()
        {
            var tokenizer = ByteLevelWithMerge34(new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true });
            Assert.Equal(new[] { 0x31, 0x32, 259, 0x35 }, tokenizer.Encode("12345"));
            Assert.Equal(new[] { 0x61, 0x31, 0x32, 259 }, tokenizer.Encode("a1234"));
            // "3" and " 4" are separate GPT-2 pieces.
            Assert.Equal(new[] { 0x33, 0x20, 0x34 }, tokenizer.Encode("3 4"));
        }

        [Fact]
        public void ByteLevelPrefixSpaceIsAddedToEachStretchOfText()
        {
            var tokenizer = ByteLevelWithMerge34(new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true });
            Assert.Equal(new[] { 0x20, 0x61, 256, 0x20, 0x62 }, tokenizer.Encode("a<s>b"));
            Assert.Equal(new[] { 0x20, 0x61 }, tokenizer.Encode(" a"));
        }

        [Theory]
        [InlineData(false, new[] { 259, 0x35 })]
        [InlineData(true, new[] { 260 })]
        public void IgnoreMergesTakesWholeWordsFromTheVocabulary(bool ignoreMerges, int[] expected)
        {
            // Llama 3 sets ignore_merges: a word that is itself a token is that token, whatever the merges would make.
            var pre = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
            var tokenizer = ByteLevelWithMerge34(pre, model =>
            {
                model["vocab"]!["345"] = 260;
                model["ignore_merges"] = ignoreMerges;
            });
            Assert.Equal(expected, tokenizer.Encode("345"));
        }

        private const string Llama3Pattern =
            @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

        private ITextTokenizer ByteLevelWithMerge34(JsonObject preTokenizer, System.Action<JsonNode>? editModel = null)
        {
            var folder = TempFolder();
            new ByteTokenizer().SaveTo(folder);
            var path = Path.Combine(folder, "tokenizer.json");
            var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            root["pre_tokenizer"] = preTokenizer;
            // Specials in the model vocabulary too: tokenizers numbers added tokens missing from it after the vocabulary.
            var vocab = root["model"]!["vocab"]!;
            vocab["<s>"] = 256;
            vocab["</s>"] = 257;
            vocab["<pad>"] = 258;
            vocab["34"] = 259;
            root["model"]!["merges"] = new JsonArray(JsonValue.Create("3 4"));
            editModel?.Invoke(root["model"]!);
            File.WriteAllText(path, root.ToJsonString());
            return TokenizerLoader.Load(path);
        }

        private string CopyOfBpeFixture()
        {
            var folder = TempFolder();
            File.Copy(Fixtures.BpeJson, Path.Combine(folder, "tokenizer.json"));
            return folder;
        }
    }
}
