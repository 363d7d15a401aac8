using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Core.Datasets;
using XTuner.Training.Data;
using XTuner.Training.Tests.Data.Cache;
using XTuner.Training.Tests.Tokenization;
using Xunit;

namespace XTuner.Training.Tests.Data
{
    /// <summary>Tokenizing on many threads changes nothing: the same sequences, the same first bad line, in file order.</summary>
    public class ParallelReadingTests : TempFolderTest
    {
        [Fact]
        public void ManyThreadsMakeTheSequencesOfOne()
        {
            var folder = TempFolder();
            var config = ThreeFiles(folder, badLineAt: null);
            config.SkipBadLines = true;
            var one = Build(config, folder, threads: 1, out var oneStats);
            var many = Build(config, folder, threads: 5, out var manyStats);
            CacheData.AssertSame(one, many);
            CacheData.AssertSame(oneStats, manyStats);
            Assert.Equal(3 * 6000, oneStats.Samples);
        }

        [Fact]
        public void TheFirstBadLineInFileOrderIsTheOneReported()
        {
            var folder = TempFolder();
            var config = ThreeFiles(folder, badLineAt: 4321);
            var e = Assert.Throws<XTunerException>(() => Build(config, folder, threads: 5, out _));
            Assert.Contains("b.jsonl:4321:", e.Message);
        }

        [Fact]
        public void ProgressCountsSamplesTokensAndBytesUpToAllOfThem()
        {
            var folder = TempFolder();
            var config = ThreeFiles(folder, badLineAt: null);
            var listener = new CacheData.Listener();
            var list = new PackedSequenceList(0);
            var stats = DatasetPipeline.Run(config, CacheData.Tokenizer(DatasetFormat.Text), folder, list, listener, threads: 2);
            var done = listener.Reports.Last();
            Assert.Equal(DataPhase.Done, done.Phase);
            Assert.Equal((stats.Samples, stats.Tokens, 2), (done.Samples, done.Tokens, done.Threads));
            Assert.Equal(config.DataFiles.Sum(f => new FileInfo(Path.Combine(folder, f)).Length), done.TotalBytes);
            Assert.Equal(done.TotalBytes, done.BytesRead);
            Assert.Equal(100, done.PercentComplete);
            Assert.Contains("18,000 samples", done.Summary());
        }

        private static IReadOnlyList<PackedSequence> Build(XTunerConfig config, string folder, int threads, out DatasetStats stats)
        {
            var list = new PackedSequenceList(0);
            stats = DatasetPipeline.Run(config, CacheData.Tokenizer(DatasetFormat.Text), folder, list, null, threads);
            return list.Sequences;
        }

        /// <summary>Three files of 6000 lines each (many batches per file); one bad line in the second when asked.</summary>
        private static XTunerConfig ThreeFiles(string folder, int? badLineAt)
        {
            var config = CacheData.InMemory(CacheData.Config(folder, DatasetFormat.Text));
            config.DataFiles = new List<string>();
            foreach (var (name, seed) in new[] { ("a.jsonl", 1), ("b.jsonl", 2), ("c.jsonl", 3) })
            {
                var lines = CacheData.Lines(DatasetFormat.Text, 6000, seed);
                if (badLineAt is int n && name == "b.jsonl")
                {
                    lines[n - 1] = "{\"text\": 1}";
                    lines[n + 500] = "not json";
                }
                File.WriteAllLines(Path.Combine(folder, name), lines);
                config.DataFiles.Add(name);
            }
            return config;
        }
    }
}
