using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace XTuner.Training.Tests.Tokenization
{
    /// <summary>The tokenizer fixtures made with Hugging Face tokenizers / sentencepiece (tests/.../data/hf-tiny).</summary>
    internal static class Fixtures
    {
        public static string Folder(string name) => Path.Combine(AppContext.BaseDirectory, "data", "hf-tiny", name);

        public static string BpeJson => Path.Combine(Folder("tokenizer-bpe"), "tokenizer.json");

        public static string SentencePieceModel => Path.Combine(Folder("tokenizer-sentencepiece"), "tokenizer.model");

        /// <summary>The (text, ids) pairs of a fixture's reference.json.</summary>
        public static IReadOnlyList<(string Text, int[] Ids)> References(string name)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder(name), "reference.json")));
            return doc.RootElement.EnumerateArray()
                .Select(e => (e.GetProperty("text").GetString()!, e.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray()))
                .ToList();
        }
    }
}
