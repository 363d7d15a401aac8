using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;

namespace XTuner.Training.Tokenization
{
    /// <summary>
    /// What transformers keeps beside a tokenizer file: which tokens are bos/eos/pad (tokenizer_config.json, then
    /// special_tokens_map.json) and the added tokens a SentencePiece model does not hold itself.
    /// </summary>
    internal sealed class TokenizerConfigFiles
    {
        /// <summary>Files copied along with the tokenizer into an exported checkpoint.</summary>
        public static readonly string[] CompanionNames = { "tokenizer_config.json", "special_tokens_map.json", "generation_config.json" };

        private static readonly string[] BosNames = { "<s>", "<|begin_of_text|>", "<|startoftext|>", "<BOS_TOKEN>", "<bos>" };
        private static readonly string[] EosNames = { "</s>", "<|end_of_text|>", "<|endoftext|>", "<EOS_TOKEN>", "<eos>" };
        private static readonly string[] PadNames = { "<pad>", "<PAD>", "<|pad|>" };

        // Absent key: not said (use conventional names); present with null: the tokenizer has no such token.
        private readonly Dictionary<string, string?> _specialTokens = new Dictionary<string, string?>();

        private TokenizerConfigFiles()
        {
        }

        public List<AddedToken> AddedTokens { get; } = new List<AddedToken>();

        public static TokenizerConfigFiles Read(string folder)
        {
            var files = new TokenizerConfigFiles();
            foreach (var name in new[] { "tokenizer_config.json", "special_tokens_map.json" })
            {
                var path = Path.Combine(folder, name);
                if (!File.Exists(path))
                    continue;
                try
                {
                    using var doc = JsonDocument.Parse(File.ReadAllText(path));
                    files.Take(doc.RootElement);
                }
                catch (JsonException ex)
                {
                    throw new FormatException($"{path} is not valid JSON: {ex.Message}", ex);
                }
            }
            return files;
        }

        /// <summary>The bos id the files name; else <paramref name="modelDefault"/>; else a conventional bos token's id.</summary>
        public int? BosId(Func<string, int?> tokenToId, int? modelDefault = null) => Resolve("bos_token", BosNames, tokenToId, modelDefault);

        /// <summary>The eos id the files name; else <paramref name="modelDefault"/>; else a conventional eos token's id.</summary>
        public int? EosId(Func<string, int?> tokenToId, int? modelDefault = null) => Resolve("eos_token", EosNames, tokenToId, modelDefault);

        /// <summary>The pad id the files name; else <paramref name="modelDefault"/>; else a conventional pad token's id.</summary>
        public int? PadId(Func<string, int?> tokenToId, int? modelDefault = null) => Resolve("pad_token", PadNames, tokenToId, modelDefault);

        /// <summary>Copies <paramref name="tokenizerFile"/> and the companions beside it into <paramref name="directory"/>.</summary>
        public static void CopyWith(string tokenizerFile, string directory)
        {
            Directory.CreateDirectory(directory);
            var sourceFolder = Path.GetDirectoryName(Path.GetFullPath(tokenizerFile))!;
            if (string.Equals(sourceFolder, Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
                return;
            File.Copy(tokenizerFile, Path.Combine(directory, Path.GetFileName(tokenizerFile)), overwrite: true);
            foreach (var name in CompanionNames)
            {
                var companion = Path.Combine(sourceFolder, name);
                if (File.Exists(companion))
                    File.Copy(companion, Path.Combine(directory, name), overwrite: true);
            }
        }

        private void Take(JsonElement root)
        {
            if (root.ValueKind != JsonValueKind.Object)
                return;
            foreach (var key in new[] { "bos_token", "eos_token", "pad_token" })
                if (!_specialTokens.ContainsKey(key) && root.TryGetProperty(key, out var value))
                    _specialTokens[key] = Content(value);
            if (root.TryGetProperty("added_tokens_decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object)
                foreach (var entry in decoder.EnumerateObject())
                    if (int.TryParse(entry.Name, out var id) && Content(entry.Value) is string content)
                        AddedTokens.Add(new AddedToken(content, id,
                            Flag(entry.Value, "lstrip"), Flag(entry.Value, "rstrip"), Flag(entry.Value, "single_word")));
        }

        private int? Resolve(string key, string[] conventionalNames, Func<string, int?> tokenToId, int? modelDefault)
        {
            if (_specialTokens.TryGetValue(key, out var name))
                return name is null ? null : tokenToId(name);
            if (modelDefault is not null)
                return modelDefault;
            foreach (var conventional in conventionalNames)
                if (tokenToId(conventional) is int id)
                    return id;
            return null;
        }

        // Tokens appear as plain strings or as AddedToken objects with a "content" field.
        private static string? Content(JsonElement value) => value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => null,
        };

        private static bool Flag(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
    }
}
