using System.IO;
using XTuner.Core.Configuration;
using XTuner.Training.Data;
using XTuner.Training.Data.Cache;
using XTuner.Training.Tests.Tokenization;
using Xunit;

namespace XTuner.Training.Tests.Data.Cache
{
    /// <summary>Sequences read from a cache are those built in memory, token for token, in every format and packing.</summary>
    public class CacheEquivalenceTests : TempFolderTest
    {
        [Theory]
        [InlineData(DatasetFormat.Text, true)]
        [InlineData(DatasetFormat.Text, false)]
        [InlineData(DatasetFormat.Alpaca, true)]
        [InlineData(DatasetFormat.Chat, true)]
        [InlineData(DatasetFormat.Chat, false)]
        [InlineData(DatasetFormat.Tokenized, true)]
        [InlineData(DatasetFormat.Tokenized, false)]
        public void CachedSequencesAreTheInMemoryOnes(DatasetFormat format, bool pack)
        {
            var folder = TempFolder();
            File.WriteAllLines(Path.Combine(folder, "data.jsonl"), CacheData.Lines(format, 300));
            // Byte-level conversations run to hundreds of tokens: a longer max_length keeps both packing and truncation.
            var config = CacheData.Config(folder, format, maxLength: format is DatasetFormat.Text or DatasetFormat.Tokenized ? 64 : 200, pack: pack);
            var tokenizer = CacheData.Tokenizer(format);

            var expected = DatasetBuilder.Build(CacheData.InMemory(config), tokenizer, folder, out var expectedStats);
            var cached = DatasetBuilder.Build(config, tokenizer, folder, out var stats);

            var sequences = Assert.IsType<CachedSequences>(cached);
            Assert.False(sequences.Reused);
            Assert.True(expectedStats.TruncatedSamples > 0, "the data should hold samples longer than max_length");
            if (pack) Assert.Contains(expected, s => s.Documents > 1);
            CacheData.AssertSame(expected, cached);
            CacheData.AssertSame(expectedStats, stats);
            sequences.Dispose();

            using var reopened = Assert.IsType<CachedSequences>(DatasetBuilder.Build(config, tokenizer, folder, out var reusedStats));
            Assert.True(reopened.Reused);
            CacheData.AssertSame(expected, reopened);
            CacheData.AssertSame(expectedStats, reusedStats);
        }

        [Fact]
        public void TokenizedLabelsAreKeptAsTheyAreAndTextLabelsAsAMask()
        {
            var folder = TempFolder();
            File.WriteAllLines(Path.Combine(folder, "data.jsonl"), CacheData.Lines(DatasetFormat.Tokenized, 20));
            var tokenized = CacheData.Config(folder, DatasetFormat.Tokenized);
            using (var cache = Assert.IsType<CachedSequences>(DatasetBuilder.Build(tokenized, null, folder, out _)))
                Assert.Equal(("ids", 2), (cache.Manifest.Labels, cache.Manifest.TokenBytes));

            File.WriteAllLines(Path.Combine(folder, "text.jsonl"), CacheData.Lines(DatasetFormat.Text, 20));
            var text = CacheData.Config(folder, DatasetFormat.Text, file: "text.jsonl");
            using (var cache = Assert.IsType<CachedSequences>(DatasetBuilder.Build(text, CacheData.Tokenizer(DatasetFormat.Text), folder, out _)))
                Assert.Equal(("mask", 2), (cache.Manifest.Labels, cache.Manifest.TokenBytes));
        }

        [Fact]
        public void TokenizedIdsWithoutAKnownVocabularyAreStoredIn32Bits()
        {
            var folder = TempFolder();
            File.WriteAllLines(Path.Combine(folder, "data.jsonl"), new[] { "{\"input_ids\": [1, 70000, 3]}", "{\"input_ids\": [5]}" });
            var config = CacheData.Config(folder, DatasetFormat.Tokenized, maxLength: 8);
            config.Model.VocabSize = null;
            var expected = DatasetBuilder.Build(CacheData.InMemory(config), null, folder, out _);
            using var cache = Assert.IsType<CachedSequences>(DatasetBuilder.Build(config, null, folder, out _));
            Assert.Equal(4, cache.Manifest.TokenBytes);
            CacheData.AssertSame(expected, cache);
        }
    }
}
