using System;
using System.IO;
using System.Linq;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Core.Datasets;
using XTuner.Training.Data;
using XTuner.Training.Data.Cache;
using XTuner.Training.Tests.Tokenization;
using Xunit;

namespace XTuner.Training.Tests.Data.Cache
{
    /// <summary>A cache that is truncated, damaged or half-built is never trained on: it is rebuilt, or the read stops.</summary>
    public class CacheDamageTests : TempFolderTest
    {
        [Theory]
        [InlineData("truncate " + CacheFiles.InputIds, "input_ids.bin has")]
        [InlineData("truncate " + CacheFiles.Targets, "targets.bin has")]
        [InlineData("flip " + CacheFiles.Documents, "documents.bin does not match its checksum")]
        [InlineData("flip " + CacheFiles.SequenceTokens, "sequence_tokens.bin does not match its checksum")]
        [InlineData("flip " + CacheFiles.Checksums, "checksums.bin does not match its checksum")]
        [InlineData("delete " + DatasetCacheManifest.FileName, "manifest.json is missing")]
        [InlineData("garble " + DatasetCacheManifest.FileName, "manifest.json is missing or unreadable")]
        public void ADamagedCacheIsRebuiltWithAWarning(string damage, string reason)
        {
            var (folder, config, expected) = Built(DatasetFormat.Text);
            var cache = CacheData.CacheFolder(config);
            var (action, file) = (damage.Split(' ')[0], Path.Combine(cache, damage.Split(' ')[1]));
            switch (action)
            {
                case "truncate":
                    using (var stream = new FileStream(file, FileMode.Open)) stream.SetLength(stream.Length - 1);
                    break;
                case "flip":
                    Flip(file, 3);
                    break;
                case "delete":
                    File.Delete(file);
                    break;
                default:
                    File.WriteAllText(file, "{ not json");
                    break;
            }

            var listener = new CacheData.Listener();
            using var rebuilt = Assert.IsType<CachedSequences>(DatasetBuilder.Build(config, CacheData.Tokenizer(DatasetFormat.Text), folder, out _, listener));
            Assert.False(rebuilt.Reused);
            var warning = Assert.Single(listener.Warnings);
            Assert.Contains(cache, warning);
            Assert.Contains(reason, warning);
            Assert.Contains("rebuilding it", warning);
            CacheData.AssertSame(expected, rebuilt);
        }

        [Fact]
        public void ADamagedTokenStopsTheReadAndTheNextRunRebuilds()
        {
            var (folder, config, expected) = Built(DatasetFormat.Text);
            var cache = CacheData.CacheFolder(config);
            // A token of the last sequence: opening checks sizes and the index, reading checks each sequence.
            Flip(Path.Combine(cache, CacheFiles.InputIds), (int)new FileInfo(Path.Combine(cache, CacheFiles.InputIds)).Length - 2);

            using (var damaged = Assert.IsType<CachedSequences>(DatasetBuilder.Build(config, CacheData.Tokenizer(DatasetFormat.Text), folder, out _)))
            {
                Assert.Equal(expected[0].InputIds, damaged[0].InputIds);
                var e = Assert.Throws<XTunerException>(() => damaged[damaged.Count - 1]);
                Assert.Equal(ErrorIds.DatasetCacheCorrupt, e.ErrorId);
                Assert.Contains($"Sequence {damaged.Count - 1} of the dataset cache {cache} is damaged (it does not match its checksum)", e.Message);
                Assert.False(Directory.Exists(cache));
            }

            using var rebuilt = Assert.IsType<CachedSequences>(DatasetBuilder.Build(config, CacheData.Tokenizer(DatasetFormat.Text), folder, out _));
            Assert.False(rebuilt.Reused);
            CacheData.AssertSame(expected, rebuilt);
            Assert.Single(Directory.GetDirectories(config.DatasetCacheDir!));
        }

        [Fact]
        public void ABuildThatFailsLeavesNoCache()
        {
            var folder = TempFolder();
            var lines = CacheData.Lines(DatasetFormat.Text, 40).ToList();
            lines.Insert(30, "{\"text\": 5}");
            File.WriteAllLines(Path.Combine(folder, "data.jsonl"), lines);
            var config = CacheData.Config(folder, DatasetFormat.Text);

            var e = Assert.Throws<XTunerException>(() => DatasetBuilder.Build(config, CacheData.Tokenizer(DatasetFormat.Text), folder, out _));
            Assert.Equal(ErrorIds.BadDataLine, e.ErrorId);
            Assert.Contains("data.jsonl:31:", e.Message);
            Assert.Empty(Directory.GetDirectories(config.DatasetCacheDir!));
            Assert.DoesNotContain(Directory.GetFiles(config.DatasetCacheDir!), f => !f.EndsWith(".lock", StringComparison.Ordinal));
        }

        [Fact]
        public void WhatACrashedBuilderLeftIsClearedByTheNextBuild()
        {
            var folder = TempFolder();
            File.WriteAllLines(Path.Combine(folder, "data.jsonl"), CacheData.Lines(DatasetFormat.Text, 40));
            var config = CacheData.Config(folder, DatasetFormat.Text);
            var key = DatasetCacheKey.Compute(config, CacheData.Tokenizer(DatasetFormat.Text), folder).Key;
            var leftover = Path.Combine(config.DatasetCacheDir!, key + ".tmp-99999");
            Directory.CreateDirectory(leftover);
            File.WriteAllText(Path.Combine(leftover, CacheFiles.InputIds), "half");

            using var cache = Assert.IsType<CachedSequences>(DatasetBuilder.Build(config, CacheData.Tokenizer(DatasetFormat.Text), folder, out _));
            Assert.False(cache.Reused);
            Assert.False(Directory.Exists(leftover));
            Assert.Equal(Path.Combine(config.DatasetCacheDir!, key), cache.Folder);
        }

        private (string Folder, XTunerConfig Config, System.Collections.Generic.IReadOnlyList<PackedSequence> Expected) Built(DatasetFormat format)
        {
            var folder = TempFolder();
            File.WriteAllLines(Path.Combine(folder, "data.jsonl"), CacheData.Lines(format, 60));
            var config = CacheData.Config(folder, format);
            var expected = DatasetBuilder.Build(CacheData.InMemory(config), CacheData.Tokenizer(format), folder, out _);
            using (DatasetBuilder.Build(config, CacheData.Tokenizer(format), folder, out _) as IDisposable) { }
            return (folder, config, expected);
        }

        private static void Flip(string file, int offset)
        {
            var bytes = File.ReadAllBytes(file);
            bytes[offset] ^= 0x5A;
            File.WriteAllBytes(file, bytes);
        }
    }
}
