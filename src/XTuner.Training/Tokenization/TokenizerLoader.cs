using System;
using System.IO;
using System.Text.Json;
using XTuner.Core;
using XTuner.Training.Tokenization.HuggingFace;
using XTuner.Training.Tokenization.SentencePiece;

namespace XTuner.Training.Tokenization
{
    /// <summary>Opens the tokenizer a config names: <c>byte</c>, a tokenizer.json or tokenizer.model, or a folder holding one.</summary>
    public static class TokenizerLoader
    {
        /// <summary>The spec of the built-in <see cref="ByteTokenizer"/>.</summary>
        public const string ByteSpec = "byte";

        /// <summary>Error id for a tokenizer file that exists but cannot be read.</summary>
        public const string InvalidTokenizerErrorId = ErrorIds.InvalidTokenizer;

        /// <summary>
        /// Loads <paramref name="spec"/>, or the checkpoint's own tokenizer when it is null. In a folder tokenizer.json is
        /// preferred over tokenizer.model, as transformers' fast tokenizers prefer it.
        /// </summary>
        public static ITextTokenizer Load(string? spec, string? checkpointDirectory = null)
        {
            if (string.Equals(spec, ByteSpec, StringComparison.OrdinalIgnoreCase))
                return new ByteTokenizer();
            var path = spec ?? checkpointDirectory
                ?? throw new XTunerException(ErrorIds.InvalidConfig,
                    "No tokenizer: set tokenizer (a tokenizer.json / tokenizer.model file or folder, or 'byte') or pretrained_model_name_or_path.");
            var full = Path.GetFullPath(path);
            if (Directory.Exists(full))
                full = FindInFolder(full);
            else if (!File.Exists(full))
                throw new XTunerException(ErrorIds.PathNotFound,
                    $"Tokenizer '{path}' not found (looked for {full}); give 'byte', a tokenizer.json or tokenizer.model file, or a folder holding one.");

            try
            {
                return full.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
                    ? HuggingFaceTokenizer.Load(full)
                    : SentencePieceTokenizer.Load(full);
            }
            catch (Exception ex) when (ex is FormatException or JsonException or InvalidOperationException or ArgumentException or IOException)
            {
                throw new XTunerException(InvalidTokenizerErrorId, $"Cannot read tokenizer {full}: {ex.Message}", ex);
            }
        }

        private static string FindInFolder(string folder)
        {
            foreach (var name in new[] { "tokenizer.json", "tokenizer.model" })
            {
                var candidate = Path.Combine(folder, name);
                if (File.Exists(candidate))
                    return candidate;
            }
            throw new XTunerException(ErrorIds.PathNotFound,
                $"Folder {folder} holds neither tokenizer.json nor tokenizer.model; point tokenizer at a tokenizer file or use 'byte'.");
        }
    }
}
