using System;
using System.IO;

namespace XTuner.Core.Datasets
{
    /// <summary>A prepared dataset: its cache folder and what is in it (what Initialize-XTunerDataset returns).</summary>
    public sealed class XTunerDataset
    {
        /// <summary>The cache folder.</summary>
        public string Path { get; set; } = "";

        /// <summary>The folder's name: format, max_length, packing and a hash of everything that determined it.</summary>
        public string Key { get; set; } = "";

        public string Format { get; set; } = "";

        public int MaxLength { get; set; }

        public bool PackToMaxLength { get; set; }

        public long Samples { get; set; }

        public long Sequences { get; set; }

        public long Tokens { get; set; }

        public long TargetTokens { get; set; }

        public long PaddingTokens { get; set; }

        public long TruncatedSamples { get; set; }

        public long SkippedLines { get; set; }

        /// <summary>Bytes of the cache's files.</summary>
        public long SizeBytes { get; set; }

        public double SizeGB => SizeBytes / 1e9;

        public DateTime Created { get; set; }

        public double BuildSeconds { get; set; }

        public int BuildThreads { get; set; }

        /// <summary>True when the cache was there already (and was checked); false when it was built now.</summary>
        public bool Reused { get; set; }

        /// <summary>The dataset in the cache folder <paramref name="folder"/>; an error when it holds no manifest.</summary>
        public static XTunerDataset Load(string folder, bool reused)
        {
            var m = DatasetCacheManifest.TryRead(folder)
                ?? throw new XTunerException(ErrorIds.PathNotFound, $"{folder} is not a dataset cache (it has no readable {DatasetCacheManifest.FileName}).");
            return new XTunerDataset
            {
                Path = System.IO.Path.GetFullPath(folder),
                Key = m.Key,
                Format = m.Inputs.TryGetValue("dataset_format", out var format) ? format : "",
                MaxLength = m.MaxLength,
                PackToMaxLength = m.PackToMaxLength,
                Samples = m.Stats.Samples,
                Sequences = m.Stats.Sequences,
                Tokens = m.Stats.Tokens,
                TargetTokens = m.Stats.TargetTokens,
                PaddingTokens = m.Stats.PaddingTokens,
                TruncatedSamples = m.Stats.TruncatedSamples,
                SkippedLines = m.Stats.SkippedLines,
                SizeBytes = m.SizeBytes,
                Created = m.Created,
                BuildSeconds = m.BuildSeconds,
                BuildThreads = m.BuildThreads,
                Reused = reused,
            };
        }

        public override string ToString() => $"{Key} ({Sequences} sequences, {Tokens} tokens) in {System.IO.Path.GetDirectoryName(Path)}";
    }
}
