using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace XTuner.Core.Datasets
{
    /// <summary>
    /// manifest.json of a dataset cache folder: what determined the cache (its key and the inputs hashed into it), how the
    /// flat binary files beside it are laid out, their sizes, and the dataset statistics. Written last, so a folder
    /// without it is never a cache.
    /// </summary>
    public sealed class DatasetCacheManifest
    {
        public const string FileName = "manifest.json";

        /// <summary>The layout version this code reads and writes; a cache of another version is rebuilt.</summary>
        public const int CurrentFormatVersion = 1;

        private static readonly JsonSerializerOptions Options = new JsonSerializerOptions { WriteIndented = true };

        [JsonPropertyName("format_version")]
        public int FormatVersion { get; set; }

        /// <summary>The cache folder's name: the format, max_length, packing and a hash of <see cref="Inputs"/>.</summary>
        [JsonPropertyName("key")]
        public string Key { get; set; } = "";

        /// <summary>What the key hashes: data files (path, size, modification time), tokenizer, format, template, packing.</summary>
        [JsonPropertyName("inputs")]
        public SortedDictionary<string, string> Inputs { get; set; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

        [JsonPropertyName("created")]
        public DateTime Created { get; set; }

        [JsonPropertyName("build_seconds")]
        public double BuildSeconds { get; set; }

        [JsonPropertyName("build_threads")]
        public int BuildThreads { get; set; }

        [JsonPropertyName("max_length")]
        public int MaxLength { get; set; }

        [JsonPropertyName("pack_to_max_length")]
        public bool PackToMaxLength { get; set; }

        [JsonPropertyName("pad_token_id")]
        public int PadTokenId { get; set; }

        /// <summary>Bytes per stored token id: 2 when every id fits in 16 bits, else 4.</summary>
        [JsonPropertyName("token_bytes")]
        public int TokenBytes { get; set; }

        /// <summary>
        /// <c>mask</c>: one bit per token says whether its label is the token itself or -100 (text, alpaca, chat);
        /// <c>ids</c>: labels are stored as 32-bit ids (tokenized data, whose labels may be anything).
        /// </summary>
        [JsonPropertyName("labels")]
        public string Labels { get; set; } = "";

        [JsonPropertyName("sequences")]
        public long Sequences { get; set; }

        [JsonPropertyName("documents")]
        public long Documents { get; set; }

        /// <summary>Stored tokens (documents only; padding is made on read).</summary>
        [JsonPropertyName("tokens")]
        public long Tokens { get; set; }

        [JsonPropertyName("stats")]
        public DatasetCacheStats Stats { get; set; } = new DatasetCacheStats();

        /// <summary>Each binary file's size; the small index files also carry an XxHash3 checksum (hex).</summary>
        [JsonPropertyName("files")]
        public SortedDictionary<string, DatasetCacheFile> Files { get; set; } = new SortedDictionary<string, DatasetCacheFile>(StringComparer.Ordinal);

        /// <summary>Bytes of the binary files together.</summary>
        [JsonIgnore]
        public long SizeBytes
        {
            get
            {
                long total = 0;
                foreach (var f in Files.Values) total += f.Bytes;
                return total;
            }
        }

        /// <summary>The manifest in <paramref name="folder"/>, or null when there is none or it cannot be read.</summary>
        public static DatasetCacheManifest? TryRead(string folder)
        {
            var text = AtomicFile.ReadAllText(Path.Combine(folder, FileName));
            if (text == null) return null;
            try
            {
                return JsonSerializer.Deserialize<DatasetCacheManifest>(text, Options);
            }
            catch (JsonException)
            {
                return null;
            }
        }

        public void Write(string folder) => AtomicFile.WriteAllText(Path.Combine(folder, FileName), JsonSerializer.Serialize(this, Options));
    }

    /// <summary>One binary file of a dataset cache.</summary>
    public sealed class DatasetCacheFile
    {
        [JsonPropertyName("bytes")]
        public long Bytes { get; set; }

        [JsonPropertyName("xxh3")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Checksum { get; set; }
    }

    /// <summary>The statistics a run prints for its data, as the cache keeps them.</summary>
    public sealed class DatasetCacheStats
    {
        [JsonPropertyName("samples")]
        public long Samples { get; set; }

        [JsonPropertyName("sequences")]
        public long Sequences { get; set; }

        [JsonPropertyName("tokens")]
        public long Tokens { get; set; }

        [JsonPropertyName("target_tokens")]
        public long TargetTokens { get; set; }

        [JsonPropertyName("skipped_lines")]
        public long SkippedLines { get; set; }

        [JsonPropertyName("truncated_samples")]
        public long TruncatedSamples { get; set; }

        [JsonPropertyName("padding_tokens")]
        public long PaddingTokens { get; set; }
    }
}
