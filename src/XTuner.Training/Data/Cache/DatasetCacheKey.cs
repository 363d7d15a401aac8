using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Hashing;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Training.Data.Sources;
using XTuner.Training.Tokenization;

namespace XTuner.Training.Data.Cache
{
    /// <summary>
    /// What determines a dataset cache's bytes, and the folder name made from it: each data file's identity (path, size,
    /// modification time; a built-in sample's content), the tokenizer's files and special tokens, the format, the prompt
    /// template, max_length, packing, skip_bad_lines and the vocabulary that tokenized ids are checked against. Shuffling
    /// and the seed are left out (the sampler applies them on top), and so is variable-length attention: it reads the
    /// document boundaries that every cache keeps, so the cached bytes are the same with it and without it.
    /// </summary>
    internal static class DatasetCacheKey
    {
        /// <summary>
        /// Bump when parsing, tokenizing, masking or packing changes what a config makes: older caches then stop
        /// matching and are rebuilt instead of training on what the code no longer produces.
        /// </summary>
        public const string PipelineVersion = "1";

        public static (string Key, SortedDictionary<string, string> Inputs) Compute(XTunerConfig config, ITextTokenizer? tokenizer, string baseDirectory)
        {
            var c = CultureInfo.InvariantCulture;
            var inputs = new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                ["pipeline"] = PipelineVersion,
                ["dataset_format"] = ConfigValues.FormatEnum(config.DatasetFormat),
                ["data_files"] = string.Join("\n", config.DataFiles.Select(f => FileIdentity(f, baseDirectory))),
                ["tokenizer"] = tokenizer is null ? "none" : TokenizerIdentity(tokenizer),
                ["prompt_template"] = config.DatasetFormat is DatasetFormat.Alpaca or DatasetFormat.Chat
                    ? PromptTemplates.Resolve(config, tokenizer!).ToString()
                    : "",
                ["max_length"] = config.MaxLength.ToString(c),
                ["pack_to_max_length"] = config.PackToMaxLength ? "true" : "false",
                ["skip_bad_lines"] = config.SkipBadLines ? "true" : "false",
                ["vocab_size"] = (tokenizer?.VocabSize ?? config.Model.VocabSize)?.ToString(c) ?? "",
            };
            var text = string.Concat(inputs.Select(p => p.Key + "=" + p.Value + "\n"));
            var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)), 0, 8).ToLowerInvariant();
            var key = $"{ConfigValues.FormatEnum(config.DatasetFormat)}-{config.MaxLength}-{(config.PackToMaxLength ? "packed" : "unpacked")}-{hash}";
            return (key, inputs);
        }

        private static string FileIdentity(string file, string baseDirectory)
        {
            if (BuiltinData.IsBuiltin(file))
            {
                using var stream = BuiltinData.Open(file);
                var hash = new XxHash3();
                hash.Append(stream);
                return $"{file} xxh3:{Convert.ToHexString(hash.GetCurrentHash()).ToLowerInvariant()}";
            }
            var info = new FileInfo(DataSource.FullPath(file, baseDirectory));
            return $"{info.FullName} {info.Length} bytes, modified {info.LastWriteTimeUtc.ToString("o", CultureInfo.InvariantCulture)}";
        }

        /// <summary>The tokenizer as the files transformers would load it from, plus the special ids this code reads.</summary>
        private static string TokenizerIdentity(ITextTokenizer tokenizer)
        {
            var folder = Path.Combine(Path.GetTempPath(), "xtuner-tokenizer-" + Guid.NewGuid().ToString("N"));
            try
            {
                tokenizer.SaveTo(folder);
                var hash = new XxHash3();
                foreach (var path in Directory.GetFiles(folder).OrderBy(p => p, StringComparer.Ordinal))
                {
                    hash.Append(Encoding.UTF8.GetBytes(Path.GetFileName(path) + "\n"));
                    using var stream = File.OpenRead(path);
                    hash.Append(stream);
                }
                return string.Format(CultureInfo.InvariantCulture, "xxh3:{0} vocab {1} bos {2} eos {3} pad {4}",
                    Convert.ToHexString(hash.GetCurrentHash()).ToLowerInvariant(), tokenizer.VocabSize,
                    tokenizer.BosTokenId, tokenizer.EosTokenId, tokenizer.PadTokenId);
            }
            finally
            {
                if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            }
        }
    }
}
