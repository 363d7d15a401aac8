using System.IO;
using XTuner.Core;
using XTuner.Training.Tokenization;
using XTuner.Training.Tokenization.HuggingFace;
using XTuner.Training.Tokenization.SentencePiece;
using Xunit;

namespace XTuner.Training.Tests.Tokenization
{
    public class TokenizerLoaderTests : TempFolderTest
    {
        [Fact]
        public void ByteSpecNeedsNoFiles() => Assert.IsType<ByteTokenizer>(TokenizerLoader.Load("Byte"));

        [Fact]
        public void FolderPrefersTokenizerJsonOverTokenizerModel()
        {
            var folder = TempFolder();
            File.Copy(Fixtures.SentencePieceModel, Path.Combine(folder, "tokenizer.model"));
            Assert.IsType<SentencePieceTokenizer>(TokenizerLoader.Load(folder));
            File.Copy(Fixtures.BpeJson, Path.Combine(folder, "tokenizer.json"));
            Assert.IsType<HuggingFaceTokenizer>(TokenizerLoader.Load(folder));
        }

        [Fact]
        public void NullSpecFallsBackToTheCheckpointFolder() =>
            Assert.IsType<HuggingFaceTokenizer>(TokenizerLoader.Load(null, Fixtures.Folder("tokenizer-bpe")));

        [Fact]
        public void MissingPathIsAnErrorNamingIt()
        {
            var ex = Assert.Throws<XTunerException>(() => TokenizerLoader.Load("no/such/tokenizer.json"));
            Assert.Equal(ErrorIds.PathNotFound, ex.ErrorId);
            Assert.Contains("no/such/tokenizer.json", ex.Message);
        }

        [Fact]
        public void FolderWithoutATokenizerIsAnErrorNamingIt()
        {
            var folder = TempFolder();
            var ex = Assert.Throws<XTunerException>(() => TokenizerLoader.Load(folder));
            Assert.Equal(ErrorIds.PathNotFound, ex.ErrorId);
            Assert.Contains(folder, ex.Message);
        }

        [Fact]
        public void NothingToLoadIsAConfigError() =>
            Assert.Equal(ErrorIds.InvalidConfig, Assert.Throws<XTunerException>(() => TokenizerLoader.Load(null)).ErrorId);

        [Theory]
        [InlineData("tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", "WordPiece")]
        [InlineData("tokenizer.json", "{not json", "tokenizer.json")]
        [InlineData("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}", "merge 0")]
        [InlineData("tokenizer.model", "\u0001\u0002", "tokenizer.model")]
        public void UnreadableTokenizerIsAnErrorNamingFileAndProblem(string name, string content, string expected)
        {
            var path = Path.Combine(TempFolder(), name);
            File.WriteAllText(path, content);
            var ex = Assert.Throws<XTunerException>(() => TokenizerLoader.Load(path));
            Assert.Equal(TokenizerLoader.InvalidTokenizerErrorId, ex.ErrorId);
            Assert.Contains(path, ex.Message);
            Assert.Contains(expected, ex.Message);
        }
    }
}
