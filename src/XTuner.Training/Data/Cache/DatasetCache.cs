using System;
using System.Diagnostics;
using System.IO;
using System.Text.Json;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Core.Datasets;
using XTuner.Training.Tokenization;

namespace XTuner.Training.Data.Cache
{
    /// <summary>
    /// Tokenize once, share it: opens the cache of a config's data (in <c>dataset_cache_dir</c>, one folder per key), or
    /// builds it. Of all the processes that ask at once (every rank of every node that shares the folder) one builds, the
    /// others wait on a lock and then read what it wrote. A cache is built in a temporary folder and renamed into place
    /// with its manifest, so a crash mid-build never leaves a folder that is taken for a cache; a damaged or truncated one
    /// is rebuilt, with a warning.
    /// </summary>
    public static class DatasetCache
    {
        private static readonly TimeSpan WaitReportInterval = TimeSpan.FromSeconds(1);

        /// <summary>
        /// The cached sequences of <paramref name="config"/> under <paramref name="cacheRoot"/>, built first if needed
        /// (with <paramref name="threads"/> tokenizing threads); <paramref name="rebuild"/> builds anew even over a valid cache.
        /// </summary>
        public static CachedSequences OpenOrBuild(XTunerConfig config, ITextTokenizer? tokenizer, string baseDirectory, string cacheRoot,
            IDataPreparationListener? listener, out DatasetStats stats, int? threads = null, bool rebuild = false)
        {
            var clock = Stopwatch.StartNew();
            var (key, inputs) = DatasetCacheKey.Compute(config, tokenizer, baseDirectory);
            var folder = Path.Combine(cacheRoot, key);
            var progressFile = folder + ".progress.json";
            CachedSequences? cache = rebuild ? null : TryOpen(folder, listener, warn: false);
            if (cache == null)
            {
                Directory.CreateDirectory(cacheRoot);
                using var held = CacheLock.Acquire(folder + ".lock", WaitReportInterval, () => ReportWaiting(progressFile, listener));
                // Whoever held the lock before may have built it meanwhile.
                cache = rebuild ? null : TryOpen(folder, listener, warn: true);
                if (cache == null)
                {
                    Build(config, tokenizer, baseDirectory, folder, key, inputs, progressFile, listener, threads ?? DatasetPipeline.DefaultThreads);
                    cache = CachedSequences.Open(folder, reused: false);
                }
            }
            listener?.Info(string.Format(System.Globalization.CultureInfo.InvariantCulture, "data: {0} dataset cache {1} ({2}) in {3:F2} s",
                cache.Reused ? "reusing" : "built", folder, Size(cache.Manifest.SizeBytes), clock.Elapsed.TotalSeconds));
            stats = ToStats(cache.Manifest.Stats);
            return cache;
        }

        /// <summary>The dataset statistics a manifest keeps, as the trainer prints them.</summary>
        private static DatasetStats ToStats(DatasetCacheStats s) => new DatasetStats
        {
            Samples = s.Samples, Sequences = s.Sequences, Tokens = s.Tokens, TargetTokens = s.TargetTokens,
            SkippedLines = s.SkippedLines, TruncatedSamples = s.TruncatedSamples, PaddingTokens = s.PaddingTokens,
        };

        private static DatasetCacheStats FromStats(DatasetStats s) => new DatasetCacheStats
        {
            Samples = s.Samples, Sequences = s.Sequences, Tokens = s.Tokens, TargetTokens = s.TargetTokens,
            SkippedLines = s.SkippedLines, TruncatedSamples = s.TruncatedSamples, PaddingTokens = s.PaddingTokens,
        };

        /// <summary>The valid cache in <paramref name="folder"/>, or null (none there, or damaged: then said when <paramref name="warn"/>).</summary>
        private static CachedSequences? TryOpen(string folder, IDataPreparationListener? listener, bool warn)
        {
            if (!Directory.Exists(folder)) return null;
            try
            {
                return CachedSequences.Open(folder, reused: true);
            }
            catch (InvalidCacheException e)
            {
                if (warn) listener?.Warning($"The dataset cache {folder} cannot be used ({e.Message}); rebuilding it.");
                return null;
            }
        }

        /// <summary>Builds the cache into a temporary folder and renames it into place. The caller holds the lock.</summary>
        private static void Build(XTunerConfig config, ITextTokenizer? tokenizer, string baseDirectory, string folder, string key,
            System.Collections.Generic.SortedDictionary<string, string> inputs, string progressFile, IDataPreparationListener? listener, int threads)
        {
            var root = Path.GetDirectoryName(folder)!;
            // What a crashed builder left (its temporary folder), a damaged cache, and caches set aside as corrupt.
            foreach (var stale in Directory.GetDirectories(root, Path.GetFileName(folder) + ".*"))
                Directory.Delete(stale, recursive: true);
            if (Directory.Exists(folder))
                SetAsideAndDelete(folder);

            var temporary = $"{folder}.tmp-{Environment.ProcessId}";
            Directory.CreateDirectory(temporary);
            var clock = Stopwatch.StartNew();
            try
            {
                var vocab = tokenizer?.VocabSize ?? config.Model.VocabSize;
                var padId = DatasetPipeline.PadId(tokenizer);
                var tokenBytes = vocab is int v && v <= 1 << 16 && padId < 1 << 16 ? 2 : 4;
                var mask = config.DatasetFormat != DatasetFormat.Tokenized;
                using var writer = new DatasetCacheWriter(temporary, padId, tokenBytes, mask);
                var stats = DatasetPipeline.Run(config, tokenizer, baseDirectory, writer, new ProgressFile(progressFile, listener), threads);
                var files = writer.Complete();
                var manifest = new DatasetCacheManifest
                {
                    FormatVersion = DatasetCacheManifest.CurrentFormatVersion,
                    Key = key,
                    Inputs = inputs,
                    Created = DateTime.UtcNow,
                    BuildThreads = threads,
                    MaxLength = config.MaxLength,
                    PackToMaxLength = config.PackToMaxLength,
                    PadTokenId = padId,
                    TokenBytes = tokenBytes,
                    Labels = mask ? CacheFiles.MaskLabels : CacheFiles.IdLabels,
                    Sequences = writer.Sequences,
                    Documents = writer.Documents,
                    Tokens = writer.Tokens,
                    Stats = FromStats(stats),
                    Files = files,
                };
                manifest.BuildSeconds = clock.Elapsed.TotalSeconds;
                manifest.Write(temporary);
                Directory.Move(temporary, folder);
            }
            finally
            {
                if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
                if (File.Exists(progressFile)) File.Delete(progressFile);
            }
        }

        /// <summary>Renames first, so that no reader ever sees a half-deleted folder under the cache's name.</summary>
        private static void SetAsideAndDelete(string folder)
        {
            var aside = folder + ".corrupt-" + Guid.NewGuid().ToString("N").Substring(0, 8);
            Directory.Move(folder, aside);
            Directory.Delete(aside, recursive: true);
        }

        private static void ReportWaiting(string progressFile, IDataPreparationListener? listener)
        {
            if (listener == null) return;
            DataProgress? progress = null;
            if (AtomicFile.ReadAllText(progressFile) is string text)
            {
                try
                {
                    progress = JsonSerializer.Deserialize<DataProgress>(text);
                }
                catch (JsonException)
                {
                }
            }
            progress ??= new DataProgress();
            progress.Phase = DataPhase.Waiting;
            listener.Progress(progress);
        }

        private static string Size(long bytes) =>
            bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F2} GiB" : $"{bytes / (double)(1L << 20):F1} MiB";

        /// <summary>Passes the builder's progress on, and writes it beside the cache for the processes that wait.</summary>
        private sealed class ProgressFile : IDataPreparationListener
        {
            private readonly string _path;
            private readonly IDataPreparationListener? _inner;

            public ProgressFile(string path, IDataPreparationListener? inner)
            {
                _path = path;
                _inner = inner;
            }

            public void Progress(DataProgress progress)
            {
                AtomicFile.WriteAllText(_path, JsonSerializer.Serialize(progress));
                _inner?.Progress(progress);
            }

            public void Info(string message) => _inner?.Info(message);

            public void Warning(string message) => _inner?.Warning(message);
        }
    }
}
