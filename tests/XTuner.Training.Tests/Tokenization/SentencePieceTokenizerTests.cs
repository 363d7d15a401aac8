using System.IO;
using XTuner.Training.Tokenization;
using Xunit;

namespace XTuner.Training.Tests.Tokenization
{
    public class SentencePieceTokenizerTests : TempFolderTest
    {
        [Fact]
        public void SpecialIdsComeFromTheModelsTrainerSpec()
        {
            var tokenizer = TokenizerLoader.Load(Fixtures.SentencePieceModel);
            Assert.Equal(1000, tokenizer.VocabSize);
            Assert.Equal(1, tokenizer.BosTokenId);
            Assert.Equal(2, tokenizer.EosTokenId);
            Assert.Null(tokenizer.PadTokenId);
            Assert.Equal(0, tokenizer.TokenToId("<unk>"));
            Assert.Equal(3 + 0x0A, tokenizer.TokenToId("<0x0A>"));
        }

        [Fact]
        public void ControlTokensInTextBecomeTheirIdsAndEachStretchIsEncodedAlone()
        {
            var tokenizer = TokenizerLoader.Load(Fixtures.SentencePieceModel);
            var hello = tokenizer.Encode("Hello, world!");
            var expected = new System.Collections.Generic.List<int> { 1 };
            expected.AddRange(hello);
            expected.Add(2);
            expected.AddRange(hello);
            Assert.Equal(expected, tokenizer.Encode("<s>Hello, world!</s>Hello, world!"));
        }

        [Fact]
        public void AddedTokensFromTokenizerConfigAreRecognised()
        {
            var folder = TempFolder();
            File.Copy(Fixtures.SentencePieceModel, Path.Combine(folder, "tokenizer.model"));
            File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"),
                "{\"added_tokens_decoder\": {\"1000\": {\"content\": \"<|im_start|>\", \"special\": true}, " +
                "\"1001\": {\"content\": \"<|im_end|>\", \"special\": true}}, \"eos_token\": \"<|im_end|>\", \"pad_token\": \"</s>\"}");
            var tokenizer = TokenizerLoader.Load(folder);
            Assert.Equal(1002, tokenizer.VocabSize);
            Assert.Equal(1001, tokenizer.EosTokenId);
            Assert.Equal(2, tokenizer.PadTokenId);
            Assert.Equal(1, tokenizer.BosTokenId);
            var ids = tokenizer.Encode("<|im_start|>Hello, world!<|im_end|>");
            Assert.Equal(1000, ids[0]);
            Assert.Equal(1001, ids[ids.Count - 1]);
            Assert.Equal("<|im_start|>Hello, world!<|im_end|>", tokenizer.Decode(ids));
        }

        [Fact]
        public void SaveCopiesTheModelFile()
        {
            var output = TempFolder();
            TokenizerLoader.Load(Fixtures.SentencePieceModel).SaveTo(output);
            Assert.Equal(File.ReadAllBytes(Fixtures.SentencePieceModel), File.ReadAllBytes(Path.Combine(output, "tokenizer.model")));
        }
    }
}
