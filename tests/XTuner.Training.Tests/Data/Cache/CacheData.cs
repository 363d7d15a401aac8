using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Core.Configuration;
using XTuner.Core.Datasets;
using XTuner.Training.Data;
using XTuner.Training.Tokenization;
using Xunit;

namespace XTuner.Training.Tests.Data.Cache
{
    /// <summary>Datasets for the cache tests: seeded lines of every format, and the comparison of two sets of sequences.</summary>
    internal static class CacheData
    {
        private static readonly string[] Words = { "the", "model", "sequence", "of", "tokens", "and", "a", "packed", "rank", "memory", "é", "日本", "cache", "x" };

        /// <summary>Lines of <paramref name="format"/>, some longer than 64 tokens (truncated), one per call of the seeded draw.</summary>
        public static string[] Lines(DatasetFormat format, int count, int seed = 1)
        {
            var random = new Random(seed);
            string Text(int words) => string.Join(" ", Enumerable.Range(0, words).Select(_ => Words[random.Next(Words.Length)]));
            return Enumerable.Range(0, count).Select(i => format switch
            {
                DatasetFormat.Text => $"{{\"text\": \"{Text(1 + random.Next(40))}\"}}",
                DatasetFormat.Alpaca => $"{{\"instruction\": \"{Text(1 + random.Next(4))}\", \"input\": \"{(i % 3 == 0 ? Text(2) : "")}\", \"output\": \"{Text(1 + random.Next(40))}\"}}",
                DatasetFormat.Chat => "{\"messages\": [" + (i % 4 == 0 ? $"{{\"role\": \"system\", \"content\": \"{Text(2)}\"}}, " : "") +
                                      $"{{\"role\": \"user\", \"content\": \"{Text(2)}\"}}, {{\"role\": \"assistant\", \"content\": \"{Text(1 + random.Next(30))}\"}}" +
                                      (i % 2 == 0 ? $", {{\"role\": \"user\", \"content\": \"{Text(2)}\"}}, {{\"role\": \"assistant\", \"content\": \"{Text(3)}\", \"loss\": {(i % 4 == 0 ? "false" : "true")}}}" : "") +
                                      "]}",
                _ => Tokenized(random),
            }).ToArray();
        }

        private static string Tokenized(Random random)
        {
            var ids = Enumerable.Range(0, 1 + random.Next(90)).Select(_ => random.Next(320)).ToArray();
            var labels = ids.Select(id => random.Next(4) == 0 ? -100 : random.Next(320)).ToArray();
            return $"{{\"input_ids\": [{string.Join(", ", ids)}], \"labels\": [{string.Join(", ", labels)}]}}";
        }

        /// <summary>The BPE fixture for text, the byte tokenizer for conversations, none for tokenized data.</summary>
        public static ITextTokenizer? Tokenizer(DatasetFormat format) => format switch
        {
            DatasetFormat.Text => TokenizerLoader.Load(Tokenization.Fixtures.BpeJson),
            DatasetFormat.Tokenized => null,
            _ => new ByteTokenizer(),
        };

        /// <summary>A config over data.jsonl in <paramref name="folder"/> whose cache goes to <c>folder/cache</c>.</summary>
        public static XTunerConfig Config(string folder, DatasetFormat format, int maxLength = 64, bool pack = true, string file = "data.jsonl")
        {
            var config = DataFiles.Config(format, maxLength, pack);
            config.DataFiles = new List<string> { file };
            config.DatasetCacheDir = Path.Combine(folder, "cache");
            config.Model.VocabSize = format == DatasetFormat.Tokenized ? 320 : null;
            return config;
        }

        /// <summary>The same config building in memory.</summary>
        public static XTunerConfig InMemory(XTunerConfig config)
        {
            var copy = config.Clone();
            copy.DatasetCacheDir = DatasetCacheDirectory.Disabled;
            return copy;
        }

        public static void AssertSame(IReadOnlyList<PackedSequence> expected, IReadOnlyList<PackedSequence> actual)
        {
            Assert.Equal(expected.Count, actual.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.Equal(expected[i].InputIds, actual[i].InputIds);
                Assert.Equal(expected[i].Labels, actual[i].Labels);
                Assert.Equal(expected[i].PositionIds, actual[i].PositionIds);
                Assert.Equal(expected[i].DocumentLengths, actual[i].DocumentLengths);
            }
        }

        public static void AssertSame(DatasetStats expected, DatasetStats actual) => Assert.Equal(expected.ToString(), actual.ToString());

        /// <summary>The one cache folder under the config's cache root.</summary>
        public static string CacheFolder(XTunerConfig config) =>
            Directory.GetDirectories(config.DatasetCacheDir!).Single(d => !Path.GetFileName(d).Contains('.'));

        /// <summary>Records what a build reports.</summary>
        public sealed class Listener : IDataPreparationListener
        {
            public List<DataProgress> Reports { get; } = new List<DataProgress>();
            public List<string> Infos { get; } = new List<string>();
            public List<string> Warnings { get; } = new List<string>();

            public void Progress(DataProgress progress)
            {
                lock (Reports) Reports.Add(progress);
            }

            public void Info(string message) => Infos.Add(message);

            public void Warning(string message) => Warnings.Add(message);
        }
    }
}
