using System.Linq;
using XTuner.Core.Configuration;
using XTuner.Training.Data;
using XTuner.Training.Tokenization;
using XTuner.Training.Tests.Tokenization;
using Xunit;
using static XTuner.Training.Tests.Data.DataFiles;

namespace XTuner.Training.Tests.Data
{
    public class DatasetFormatTests : TempFolderTest
    {
        private static readonly ByteTokenizer Byte = new ByteTokenizer();

        [Fact]
        public void TextLearnsEveryTokenAndEndsWithEos()
        {
            var sequence = Build(TempFolder(), Config(DatasetFormat.Text), Byte, "{\"text\": \"hi\"}").Single();
            Assert.Equal(new[] { 256, 'h', 'i', 257 }, sequence.InputIds);
            Assert.Equal(new[] { -100, 'h', 'i', 257 }, sequence.Labels);
            Assert.Equal(new[] { 0, 1, 2, 3 }, sequence.PositionIds);
        }

        [Fact]
        public void AlpacaWithTheByteTokenizerUsesTheAlpacaLayoutAndMasksThePrompt()
        {
            var sequence = Build(TempFolder(), Config(DatasetFormat.Alpaca), Byte,
                "{\"instruction\": \"Add.\", \"input\": \"3 and 4\", \"output\": \"7.\"}").Single();
            var prompt = Bytes("### Instruction:\nAdd.\n3 and 4\n\n### Response:\n");
            Assert.Equal(new[] { 256 }.Concat(prompt).Concat(Bytes("7.")).Append(257), sequence.InputIds);
            Assert.Equal(Masked(1 + prompt.Length).Concat(Bytes("7.")).Append(257), sequence.Labels);
        }

        [Fact]
        public void AlpacaWithoutInputPromptsWithTheInstructionAlone()
        {
            var sequence = Build(TempFolder(), Config(DatasetFormat.Alpaca), Byte,
                "{\"instruction\": \"Say hi.\", \"input\": \"\", \"output\": \"hi\"}", "{\"instruction\": \"Say hi.\", \"output\": \"hi\"}");
            var expected = new[] { 256 }.Concat(Bytes("### Instruction:\nSay hi.\n\n### Response:\nhi")).Append(257);
            Assert.All(sequence, s => Assert.Equal(expected, s.InputIds));
        }

        [Fact]
        public void ChatLearnsOnlyTheRepliesAndTheirEndTokens()
        {
            var sequence = Build(TempFolder(), Config(DatasetFormat.Chat, 256), Byte,
                "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"}, " +
                "{\"role\": \"assistant\", \"content\": \"Hello\"}, {\"role\": \"user\", \"content\": \"Bye\"}, {\"role\": \"assistant\", \"content\": \"Bye!\"}]}").Single();
            var first = Bytes("<|System|>:Be brief.\n<|User|>:Hi\n<|Bot|>:");
            var second = Bytes("<|User|>:Bye\n<|Bot|>:");
            var ids = new[] { 256 }.Concat(first).Concat(Bytes("Hello")).Append(257).Concat(Bytes("\n"))
                .Append(256).Concat(second).Concat(Bytes("Bye!")).Append(257);
            var labels = Masked(1 + first.Length).Concat(Bytes("Hello")).Append(257).Concat(Masked(1))
                .Concat(Masked(1 + second.Length)).Concat(Bytes("Bye!")).Append(257);
            Assert.Equal(ids, sequence.InputIds);
            Assert.Equal(labels, sequence.Labels);
        }

        [Fact]
        public void ChatRepliesMarkedLossFalseAreContextOnly()
        {
            var sequence = Build(TempFolder(), Config(DatasetFormat.Chat, 256, template: "chatml"), Byte,
                "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\", \"loss\": false}, " +
                "{\"role\": \"user\", \"content\": \"c\"}, {\"role\": \"assistant\", \"content\": \"d\"}]}").Single();
            var learned = sequence.Labels.Where(l => l != -100).ToArray();
            Assert.Equal(Bytes("d<|im_end|>"), learned);
        }

        [Fact]
        public void ChatDropsLeadingRepliesAndAnUnansweredLastPromptAndJoinsConsecutiveUserMessages()
        {
            var sequence = Build(TempFolder(), Config(DatasetFormat.Chat, 256, template: "chatml"), Byte,
                "{\"messages\": [{\"role\": \"assistant\", \"content\": \"x\"}, {\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"user\", \"content\": \"b\"}, " +
                "{\"role\": \"assistant\", \"content\": \"c\"}, {\"role\": \"user\", \"content\": \"unanswered\"}]}").Single();
            Assert.Equal(Bytes("<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\nc<|im_end|>"), sequence.InputIds);
        }

        [Fact]
        public void TokenizedNeedsNoTokenizerAndLabelsDefaultToTheIds()
        {
            var sequences = Build(TempFolder(), Config(DatasetFormat.Tokenized), null,
                "{\"input_ids\": [5, 6, 7], \"labels\": [-100, 6, 7]}", "{\"input_ids\": [8, 9]}");
            Assert.Equal(new[] { -100, 6, 7 }, sequences[0].Labels);
            Assert.Equal(new[] { 8, 9 }, sequences[1].InputIds);
            Assert.Equal(new[] { 8, 9 }, sequences[1].Labels);
        }

        [Fact]
        public void SyntheticMakesSeededFullLengthSequencesForEveryStep()
        {
            var config = new XTunerConfig
            {
                DatasetFormat = DatasetFormat.Synthetic, MaxLength = 32, MaxSteps = 3, BatchSize = 2, AccumulativeCounts = 2,
                GpusPerNode = 4, SequenceParallelSize = 2, Seed = 7,
            };
            config.Model.VocabSize = 50;
            var sequences = DatasetBuilder.Build(config, null, ".", out var stats);
            Assert.Equal(3 * 2 * 2 * 2, sequences.Count);
            Assert.Equal(24 * 32, stats.Tokens);
            Assert.All(sequences, s =>
            {
                Assert.Equal(32, s.Length);
                Assert.Equal(s.InputIds, s.Labels);
                Assert.Equal(Enumerable.Range(0, 32), s.PositionIds);
                Assert.All(s.InputIds, id => Assert.InRange(id, 0, 49));
            });
            var again = DatasetBuilder.Build(config, null, ".", out _);
            Assert.Equal(sequences[5].InputIds, again[5].InputIds);
            Assert.NotEqual(sequences[5].InputIds, sequences[6].InputIds);
            config.Seed = 8;
            Assert.NotEqual(sequences[5].InputIds, DatasetBuilder.Build(config, null, ".", out _)[5].InputIds);
        }

        [Fact]
        public void BuiltinAlpacaSamplePacksIntoSeveralDozenByteSequences()
        {
            var config = Config(DatasetFormat.Alpaca, 256, pack: true);
            config.DataFiles.Add("builtin:alpaca-sample");
            var sequences = DatasetBuilder.Build(config, Byte, ".", out var stats);
            Assert.Equal(108, stats.Samples);
            Assert.InRange(sequences.Count, 24, 72);
            Assert.All(sequences, s => Assert.Equal(256, s.Length));
            Assert.Equal(0, stats.TruncatedSamples);
            Assert.Equal(sequences.Sum(s => s.Documents), stats.Samples);
            Assert.Equal(256L * sequences.Count, stats.Tokens + stats.PaddingTokens);
        }
    }
}
