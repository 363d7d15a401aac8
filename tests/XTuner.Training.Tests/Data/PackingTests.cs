using System.Linq;
using XTuner.Core.Configuration;
using XTuner.Training.Tokenization;
using XTuner.Training.Tests.Tokenization;
using Xunit;
using static XTuner.Training.Tests.Data.DataFiles;

namespace XTuner.Training.Tests.Data
{
    public class PackingTests : TempFolderTest
    {
        private static string Line(int first, int count) =>
            "{\"input_ids\": [" + string.Join(", ", Enumerable.Range(first, count)) + "]}";

        [Fact]
        public void SamplesPackGreedilyInFileOrderWithPositionsRestartingPerDocument()
        {
            // 3 + 4 fit in 8; 5 does not fit after them and starts the next sequence; 2 joins it.
            var sequences = Build(TempFolder(), Config(DatasetFormat.Tokenized, 8, pack: true), null, out var stats,
                Line(10, 3), Line(20, 4), Line(30, 5), Line(40, 2));
            Assert.Equal(2, sequences.Count);
            Assert.Equal(new[] { 10, 11, 12, 20, 21, 22, 23, 0 }, sequences[0].InputIds);
            Assert.Equal(new[] { 0, 1, 2, 0, 1, 2, 3, 4 }, sequences[0].PositionIds);
            Assert.Equal(new[] { 3, 4 }, sequences[0].DocumentLengths);
            Assert.Equal(new[] { 30, 31, 32, 33, 34, 40, 41, 0 }, sequences[1].InputIds);
            Assert.Equal(new[] { 0, 1, 2, 3, 4, 0, 1, 2 }, sequences[1].PositionIds);
            Assert.Equal(2, sequences[1].Documents);
            Assert.Equal((4, 2, 14, 14, 2), (stats.Samples, stats.Sequences, stats.Tokens, stats.TargetTokens, stats.PaddingTokens));
        }

        [Fact]
        public void PaddingIsIgnoredByTheLossAndUsesThePadToken()
        {
            var sequence = Build(TempFolder(), Config(DatasetFormat.Text, 8, pack: true), new ByteTokenizer(), "{\"text\": \"ab\"}").Single();
            Assert.Equal(new[] { 256, 'a', 'b', 257, 258, 258, 258, 258 }, sequence.InputIds);
            Assert.Equal(new[] { -100, 'a', 'b', 257, -100, -100, -100, -100 }, sequence.Labels);
            Assert.Equal(new[] { 0, 1, 2, 3, 4, 5, 6, 7 }, sequence.PositionIds);
        }

        [Fact]
        public void WithoutAPadTokenPackingPadsWithEos()
        {
            var tokenizer = TokenizerLoader.Load(Tokenization.Fixtures.BpeJson);
            var sequence = Build(TempFolder(), Config(DatasetFormat.Text, 16, pack: true), tokenizer, "{\"text\": \"a\"}").Single();
            Assert.Equal(0, tokenizer.EosTokenId);
            Assert.Null(tokenizer.PadTokenId);
            Assert.All(sequence.InputIds.Skip(sequence.DocumentLengths[0]), id => Assert.Equal(0, id));
        }

        [Fact]
        public void LongSamplesAreCutToMaxLengthAndCounted()
        {
            var sequences = Build(TempFolder(), Config(DatasetFormat.Tokenized, 4, pack: true), null, out var stats, Line(1, 6), Line(10, 2));
            Assert.Equal(new[] { 1, 2, 3, 4 }, sequences[0].InputIds);
            Assert.Equal(new[] { 10, 11, 0, 0 }, sequences[1].InputIds);
            Assert.Equal(1, stats.TruncatedSamples);
            Assert.Equal(6, stats.Tokens);
        }

        [Fact]
        public void WithoutPackingEachSampleIsItsOwnUnpaddedSequence()
        {
            var sequences = Build(TempFolder(), Config(DatasetFormat.Tokenized, 4, pack: false), null, out var stats, Line(1, 2), Line(10, 3), Line(20, 6));
            Assert.Equal(new[] { 2, 3, 4 }, sequences.Select(s => s.Length));
            Assert.Equal(new[] { 20, 21, 22, 23 }, sequences[2].InputIds);
            Assert.Equal(new[] { 0, 1, 2 }, sequences[1].PositionIds);
            Assert.All(sequences, s => Assert.Equal(1, s.Documents));
            Assert.Equal((0, 1), (stats.PaddingTokens, stats.TruncatedSamples));
        }

        [Fact]
        public void SequencesFollowFileOrderAcrossFiles()
        {
            var folder = TempFolder();
            System.IO.File.WriteAllLines(System.IO.Path.Combine(folder, "b.jsonl"), new[] { Line(1, 1) });
            System.IO.File.WriteAllLines(System.IO.Path.Combine(folder, "a.jsonl"), new[] { Line(2, 1), Line(3, 1) });
            var config = Config(DatasetFormat.Tokenized, 4);
            config.DataFiles.AddRange(new[] { "b.jsonl", "a.jsonl" });
            var sequences = Training.Data.DatasetBuilder.Build(config, null, folder, out _);
            Assert.Equal(new[] { 1, 2, 3 }, sequences.Select(s => s.InputIds[0]));
        }
    }
}
