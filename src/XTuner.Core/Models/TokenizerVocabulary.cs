using System;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace XTuner.Core.Models
{
    /// <summary>
    /// How many ids a tokenizer hands out, known before anything is loaded, so that a tokenizer larger than the
    /// model's embedding is refused before launch instead of ending in libtorch's index error mid-step.
    /// </summary>
    public static class TokenizerVocabulary
    {
        /// <summary>The built-in byte tokenizer: 256 bytes and three special tokens.</summary>
        public const int ByteTokenizerSize = 259;

        /// <summary>
        /// Largest id + 1 of the tokenizer a config names (<c>byte</c>, a tokenizer.json, or a folder holding one; else
        /// the checkpoint's own). Null when that cannot be told from the file alone (tokenizer.model, which the ranks
        /// check once loaded) or the file cannot be read (the loader then says why).
        /// </summary>
        public static int? Size(string? tokenizer, string? checkpointDirectory)
        {
            if (string.Equals(tokenizer, "byte", StringComparison.OrdinalIgnoreCase)) return ByteTokenizerSize;
            var path = tokenizer ?? checkpointDirectory;
            if (path == null) return null;
            if (Directory.Exists(path)) path = Path.Combine(path, "tokenizer.json");
            if (!path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || !File.Exists(path)) return null;
            try
            {
                using var stream = File.OpenRead(path);
                using var json = JsonDocument.Parse(stream);
                int size = 0;
                if (json.RootElement.TryGetProperty("model", out var model) && model.TryGetProperty("vocab", out var vocab))
                {
                    // BPE and WordLevel map tokens to ids; Unigram lists [piece, score] pairs in id order.
                    if (vocab.ValueKind == JsonValueKind.Object)
                        size = vocab.EnumerateObject().Select(p => p.Value.TryGetInt32(out var id) ? id + 1 : 0).DefaultIfEmpty(0).Max();
                    else if (vocab.ValueKind == JsonValueKind.Array)
                        size = vocab.GetArrayLength();
                }
                if (json.RootElement.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
                    foreach (var token in added.EnumerateArray())
                        if (token.TryGetProperty("id", out var id) && id.TryGetInt32(out var value)) size = Math.Max(size, value + 1);
                return size > 0 ? size : (int?)null;
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is JsonException)
            {
                return null;
            }
        }

        /// <summary>The error for a tokenizer of <paramref name="size"/> ids over a model of <paramref name="vocabSize"/> rows.</summary>
        public static string Mismatch(string tokenizer, int size, int vocabSize) =>
            $"The tokenizer {tokenizer} hands out {size} ids but the model's vocab_size is {vocabSize}: ids {vocabSize} and up would index " +
            $"past the embedding. Use the model's own tokenizer, or (with random_init) set model.vocab_size to {size} or more.";
    }
}
