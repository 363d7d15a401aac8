using System;
using System.IO;
using System.Linq;
using XTuner.Core.Configuration;
using XTuner.Core.Datasets;
using XTuner.Training.Data;
using XTuner.Training.Data.Cache;
using XTuner.Training.Tests.Tokenization;
using XTuner.Training.Tokenization;
using Xunit;

namespace XTuner.Training.Tests.Data.Cache
{
    /// <summary>A cache is found again by what determined it, and only by that.</summary>
    public class CacheReuseTests : TempFolderTest
    {
        [Fact]
        public void ASecondBuildReadsTheCacheWithoutTokenizing()
        {
            var folder = TempFolder();
            File.WriteAllLines(Path.Combine(folder, "data.jsonl"), CacheData.Lines(DatasetFormat.Text, 50));
            var config = CacheData.Config(folder, DatasetFormat.Text);
            var first = new CacheData.Listener();
            using (DatasetBuilder.Build(config, CacheData.Tokenizer(DatasetFormat.Text), folder, out _, first) as IDisposable) { }
            Assert.Contains(first.Reports, r => r.Phase == DataPhase.Done && r.Samples == 50 && r.BytesRead == r.TotalBytes);
            Assert.Contains(first.Infos, i => i.StartsWith("data: built dataset cache", StringComparison.Ordinal));

            var second = new CacheData.Listener();
            using var cache = Assert.IsType<CachedSequences>(DatasetBuilder.Build(config, CacheData.Tokenizer(DatasetFormat.Text), folder, out var stats, second));
            Assert.True(cache.Reused);
            Assert.Empty(second.Reports);
            Assert.Contains(second.Infos, i => i.StartsWith("data: reusing dataset cache " + cache.Folder, StringComparison.Ordinal));
            Assert.Equal(50, stats.Samples);
        }

        [Fact]
        public void TheCacheDefaultsToTheWorkDirAndNoneTurnsItOff()
        {
            var folder = TempFolder();
            File.WriteAllLines(Path.Combine(folder, "data.jsonl"), CacheData.Lines(DatasetFormat.Text, 5));
            var config = CacheData.Config(folder, DatasetFormat.Text);
            config.DatasetCacheDir = null;
            config.WorkDir = Path.Combine(folder, "work");
            using (var cache = Assert.IsType<CachedSequences>(DatasetBuilder.Build(config, CacheData.Tokenizer(DatasetFormat.Text), folder, out _)))
                Assert.Equal(Path.Combine(folder, "work", "dataset_cache"), Path.GetDirectoryName(cache.Folder));

            config.DatasetCacheDir = "none";
            Assert.IsNotType<CachedSequences>(DatasetBuilder.Build(config, CacheData.Tokenizer(DatasetFormat.Text), folder, out _));
            config.WorkDir = null;
            config.DatasetCacheDir = null;
            Assert.IsNotType<CachedSequences>(DatasetBuilder.Build(config, CacheData.Tokenizer(DatasetFormat.Text), folder, out _));
        }

        [Fact]
        public void WhatChangesTheSequencesChangesTheKeyAndWhatDoesNotKeepsIt()
        {
            var folder = TempFolder();
            var data = Path.Combine(folder, "data.jsonl");
            File.WriteAllLines(data, CacheData.Lines(DatasetFormat.Alpaca, 10));
            var tokenizer = new ByteTokenizer();
            var config = CacheData.Config(folder, DatasetFormat.Alpaca, maxLength: 128);
            var key = Key(config, tokenizer, folder);

            Assert.Equal(key, Key(With(config, c => { c.Seed = 3; c.Shuffle = false; c.MaxSteps = 7; c.BatchSize = 4; }), tokenizer, folder));
            Assert.NotEqual(key, Key(With(config, c => c.MaxLength = 256), tokenizer, folder));
            Assert.NotEqual(key, Key(With(config, c => c.PackToMaxLength = false), tokenizer, folder));
            Assert.NotEqual(key, Key(With(config, c => c.PromptTemplate = "chatml"), tokenizer, folder));
            Assert.NotEqual(key, Key(With(config, c => c.SkipBadLines = true), tokenizer, folder));
            Assert.NotEqual(key, Key(With(config, c => c.DatasetFormat = DatasetFormat.Chat), tokenizer, folder));
            Assert.NotEqual(key, Key(config, TokenizerLoader.Load(Fixtures.BpeJson), folder));

            // The data file's identity: rewritten with other content (another size), or only touched.
            File.AppendAllLines(data, CacheData.Lines(DatasetFormat.Alpaca, 1, seed: 9));
            var grown = Key(config, tokenizer, folder);
            Assert.NotEqual(key, grown);
            File.SetLastWriteTimeUtc(data, DateTime.UtcNow.AddMinutes(-5));
            Assert.NotEqual(grown, Key(config, tokenizer, folder));
        }

        [Fact]
        public void ACacheIsRebuiltWhenItsDataFileChanges()
        {
            var folder = TempFolder();
            var data = Path.Combine(folder, "data.jsonl");
            File.WriteAllLines(data, CacheData.Lines(DatasetFormat.Text, 20));
            var config = CacheData.Config(folder, DatasetFormat.Text);
            var tokenizer = CacheData.Tokenizer(DatasetFormat.Text);
            using (DatasetBuilder.Build(config, tokenizer, folder, out _) as IDisposable) { }
            File.WriteAllLines(data, CacheData.Lines(DatasetFormat.Text, 30, seed: 2));
            using var cache = Assert.IsType<CachedSequences>(DatasetBuilder.Build(config, tokenizer, folder, out var stats));
            Assert.False(cache.Reused);
            Assert.Equal(30, stats.Samples);
            CacheData.AssertSame(DatasetBuilder.Build(CacheData.InMemory(config), tokenizer, folder, out _), cache);
        }

        private static string Key(XTunerConfig config, ITextTokenizer tokenizer, string folder) =>
            DatasetCacheKey.Compute(config, tokenizer, folder).Key;

        private static XTunerConfig With(XTunerConfig config, Action<XTunerConfig> change)
        {
            var copy = config.Clone();
            change(copy);
            return copy;
        }
    }
}
