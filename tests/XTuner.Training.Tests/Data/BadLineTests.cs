using System.IO;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Training.Data;
using XTuner.Training.Tokenization;
using XTuner.Training.Tests.Tokenization;
using Xunit;
using static XTuner.Training.Tests.Data.DataFiles;

namespace XTuner.Training.Tests.Data
{
    public class BadLineTests : TempFolderTest
    {
        private const string Good = "{\"instruction\": \"a\", \"input\": \"\", \"output\": \"b\"}";

        [Theory]
        [InlineData(DatasetFormat.Alpaca, "{\"instruction\": \"a\", \"input\": \"", "not valid JSON")]
        [InlineData(DatasetFormat.Alpaca, "[1, 2]", "expected a JSON object, found an array")]
        [InlineData(DatasetFormat.Alpaca, "{\"instruction\": \"a\", \"input\": \"\"}", "missing \"output\"")]
        [InlineData(DatasetFormat.Alpaca, "{\"instruction\": \"a\", \"output\": 5}", "\"output\" is a number, not a string")]
        [InlineData(DatasetFormat.Text, "{\"txt\": \"a\"}", "missing \"text\"")]
        [InlineData(DatasetFormat.Chat, "{\"messages\": {}}", "missing \"messages\"")]
        [InlineData(DatasetFormat.Chat, "{\"messages\": [{\"role\": \"bot\", \"content\": \"x\"}]}", "messages[0] has role \"bot\"")]
        [InlineData(DatasetFormat.Chat, "{\"messages\": [{\"role\": \"user\"}]}", "messages[0] missing \"content\"")]
        [InlineData(DatasetFormat.Chat, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "no assistant reply")]
        [InlineData(DatasetFormat.Tokenized, "{\"input_ids\": [1, \"2\"]}", "input_ids[1] is \"2\", not an integer")]
        [InlineData(DatasetFormat.Tokenized, "{\"input_ids\": [1, 2], \"labels\": [1]}", "\"labels\" has 1 entries but \"input_ids\" has 2")]
        [InlineData(DatasetFormat.Tokenized, "{\"input_ids\": [1, 300]}", "input_ids[1] = 300 is outside the vocabulary")]
        [InlineData(DatasetFormat.Tokenized, "{\"input_ids\": []}", "no tokens")]
        public void BadLineIsAnErrorNamingFileLineAndProblem(DatasetFormat format, string bad, string problem)
        {
            var good = format switch
            {
                DatasetFormat.Text => "{\"text\": \"a\"}",
                DatasetFormat.Chat => "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}",
                DatasetFormat.Tokenized => "{\"input_ids\": [1]}",
                _ => Good,
            };
            var ex = Assert.Throws<XTunerException>(() => Build(TempFolder(), Config(format), new ByteTokenizer(), good, "", bad, good));
            Assert.Equal(DatasetBuilder.BadDataLineErrorId, ex.ErrorId);
            Assert.Contains($"{Path.DirectorySeparatorChar}data.jsonl:3: ", ex.Message);
            Assert.Contains(problem, ex.Message);
            Assert.Contains("skip_bad_lines", ex.Message);
        }

        [Fact]
        public void SkipBadLinesSkipsAndCountsThem()
        {
            var config = Config(DatasetFormat.Alpaca);
            config.SkipBadLines = true;
            var sequences = Build(TempFolder(), config, new ByteTokenizer(), out var stats, Good, "not json", "{\"instruction\": \"a\"}", "", Good);
            Assert.Equal(2, sequences.Count);
            Assert.Equal(2, stats.Samples);
            Assert.Equal(2, stats.SkippedLines);
        }

        [Fact]
        public void MissingDataFileIsAnErrorNamingIt()
        {
            var config = Config(DatasetFormat.Alpaca);
            config.DataFiles.Add("missing.jsonl");
            var ex = Assert.Throws<XTunerException>(() => DatasetBuilder.Build(config, new ByteTokenizer(), "/nonexistent", out _));
            Assert.Equal(ErrorIds.PathNotFound, ex.ErrorId);
            Assert.Contains("missing.jsonl", ex.Message);
        }

        [Fact]
        public void UnknownBuiltinDatasetIsAnErrorListingTheBuiltins()
        {
            var config = Config(DatasetFormat.Alpaca);
            config.DataFiles.Add("builtin:nope");
            var ex = Assert.Throws<XTunerException>(() => DatasetBuilder.Build(config, new ByteTokenizer(), ".", out _));
            Assert.Equal(ErrorIds.PathNotFound, ex.ErrorId);
            Assert.Contains("alpaca-sample", ex.Message);
        }

        [Fact]
        public void FormatsThatTokenizeNeedATokenizer()
        {
            var config = Config(DatasetFormat.Chat);
            config.DataFiles.Add("builtin:chat-sample");
            Assert.Equal(ErrorIds.InvalidConfig, Assert.Throws<XTunerException>(() => DatasetBuilder.Build(config, null, ".", out _)).ErrorId);
        }
    }
}
