using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace XTuner.Training.Tokenization.HuggingFace
{
    /// <summary>
    /// The tokenizer.json pre-tokenizers that decoder checkpoints use: ByteLevel (GPT-2), Split with the model's regex
    /// (Llama 3, Qwen2), Metaspace (SentencePiece conversions) and Sequence.
    /// </summary>
    internal static class PreTokenizers
    {
        /// <summary>GPT-2's word pattern, which ByteLevel applies when <c>use_regex</c> is set.</summary>
        public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

        private const RegexOptions Options = RegexOptions.CultureInvariant | RegexOptions.Compiled;

        public static Action<List<PreToken>, List<PreToken>>? From(JsonElement? spec)
        {
            if (spec is not JsonElement e || e.ValueKind == JsonValueKind.Null)
                return null;
            var type = JsonFields.Type(e);
            switch (type)
            {
                case "Sequence":
                    var steps = JsonFields.Array(e, "pretokenizers").EnumerateArray().Select(p => From(p)).Where(p => p is not null).ToArray();
                    return (input, output) =>
                    {
                        var current = input;
                        foreach (var step in steps)
                        {
                            var next = new List<PreToken>(current.Count * 2);
                            step!(current, next);
                            current = next;
                        }
                        output.AddRange(current);
                    };
                case "ByteLevel":
                    return ByteLevel(JsonFields.Bool(e, "add_prefix_space", true), JsonFields.Bool(e, "use_regex", true));
                case "Split":
                    var behavior = JsonFields.RequiredString(e, "behavior");
                    var splitter = new PatternSplitter(
                        new Regex(JsonFields.Pattern(e, "pattern"), Options),
                        Enum.TryParse<SplitBehavior>(behavior, out var b) ? b : throw new FormatException($"unknown split behavior '{behavior}'"),
                        JsonFields.Bool(e, "invert", false));
                    return (input, output) =>
                    {
                        foreach (var piece in input)
                            splitter.Split(piece, output);
                    };
                case "Metaspace":
                    return Metaspace(e);
                default:
                    throw new FormatException($"pre_tokenizer '{type}' is not supported (supported: Sequence, ByteLevel, Split, Metaspace)");
            }
        }

        private static Action<List<PreToken>, List<PreToken>> ByteLevel(bool addPrefixSpace, bool useRegex)
        {
            var splitter = useRegex ? new PatternSplitter(new Regex(Gpt2Pattern, Options), SplitBehavior.Isolated) : null;
            return (input, output) =>
            {
                var split = new List<PreToken>();
                foreach (var piece in input)
                {
                    var prefixed = addPrefixSpace && !piece.Text.StartsWith(' ') ? piece with { Text = " " + piece.Text } : piece;
                    split.Clear();
                    if (splitter is null)
                        split.Add(prefixed);
                    else
                        splitter.Split(prefixed, split);
                    foreach (var s in split)
                        output.Add(s with { Text = ByteLevelAlphabet.Encode(s.Text) });
                }
            };
        }

        private static Action<List<PreToken>, List<PreToken>> Metaspace(JsonElement e)
        {
            var replacement = JsonFields.RequiredString(e, "replacement");
            if (replacement.Length != 1)
                throw new FormatException($"Metaspace replacement '{replacement}' is not one character");
            // Files from before prepend_scheme say add_prefix_space instead, and always split.
            var scheme = JsonFields.String(e, "prepend_scheme") ?? (JsonFields.Bool(e, "add_prefix_space", true) ? "always" : "never");
            if (scheme != "always" && scheme != "first" && scheme != "never")
                throw new FormatException($"unknown Metaspace prepend_scheme '{scheme}'");
            var splitter = JsonFields.Bool(e, "split", true)
                ? new PatternSplitter(new Regex(Regex.Escape(replacement), Options), SplitBehavior.MergedWithNext)
                : null;
            return (input, output) =>
            {
                foreach (var piece in input)
                {
                    var text = piece.Text.Replace(" ", replacement);
                    var prepend = scheme == "always" || (scheme == "first" && piece.AtInputStart);
                    if (prepend && !text.StartsWith(replacement, StringComparison.Ordinal))
                        text = replacement + text;
                    if (splitter is null)
                        output.Add(piece with { Text = text });
                    else
                        splitter.Split(piece with { Text = text }, output);
                }
            };
        }
    }
}
