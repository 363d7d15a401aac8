using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace XTuner.Training.Tokenization.HuggingFace
{
    /// <summary>The tokenizer.json decoders of decoder checkpoints: ByteLevel, and Metaspace or Llama 2's Replace/ByteFallback/Fuse/Strip chain.</summary>
    internal static class Decoders
    {
        public static Func<List<string>, List<string>>? From(JsonElement? spec)
        {
            if (spec is not JsonElement e || e.ValueKind == JsonValueKind.Null)
                return null;
            var type = JsonFields.Type(e);
            switch (type)
            {
                case "Sequence":
                    var steps = JsonFields.Array(e, "decoders").EnumerateArray().Select(d => From(d)).Where(d => d is not null).ToArray();
                    return tokens =>
                    {
                        foreach (var step in steps)
                            tokens = step!(tokens);
                        return tokens;
                    };
                case "ByteLevel":
                    return ByteLevel;
                case "Metaspace":
                    var replacement = JsonFields.RequiredString(e, "replacement")[0];
                    var scheme = JsonFields.String(e, "prepend_scheme") ?? (JsonFields.Bool(e, "add_prefix_space", true) ? "always" : "never");
                    var dropFirst = scheme != "never";
                    return tokens => tokens.Select((t, i) => i == 0 && dropFirst ? t.Replace(replacement.ToString(), "") : t.Replace(replacement, ' ')).ToList();
                case "Replace":
                    var pattern = new Regex(JsonFields.Pattern(e, "pattern"), RegexOptions.CultureInvariant);
                    var content = JsonFields.RequiredString(e, "content").Replace("$", "$$");
                    return tokens => tokens.Select(t => pattern.Replace(t, content)).ToList();
                case "ByteFallback":
                    return ByteFallback;
                case "Fuse":
                    return tokens => new List<string> { string.Concat(tokens) };
                case "Strip":
                    var strip = JsonFields.RequiredString(e, "content");
                    var start = JsonFields.Int(e, "start", 0);
                    var stop = JsonFields.Int(e, "stop", 0);
                    return tokens => tokens.Select(t => Strip(t, strip[0], start, stop)).ToList();
                default:
                    throw new FormatException($"decoder '{type}' is not supported (supported: Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip)");
            }
        }

        private static List<string> ByteLevel(List<string> tokens)
        {
            var bytes = new List<byte>();
            foreach (var token in tokens)
            {
                // Tokens outside the byte alphabet (added tokens) pass through as their UTF-8.
                if (token.All(c => ByteLevelAlphabet.CharToByte.ContainsKey(c)))
                    bytes.AddRange(token.Select(c => ByteLevelAlphabet.CharToByte[c]));
                else
                    bytes.AddRange(Encoding.UTF8.GetBytes(token));
            }
            return new List<string> { Encoding.UTF8.GetString(bytes.ToArray()) };
        }

        private static List<string> ByteFallback(List<string> tokens)
        {
            var output = new List<string>(tokens.Count);
            var pending = new List<byte>();
            foreach (var token in tokens)
            {
                if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>' &&
                    byte.TryParse(token.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var b))
                {
                    pending.Add(b);
                    continue;
                }
                Flush(pending, output);
                output.Add(token);
            }
            Flush(pending, output);
            return output;
        }

        private static void Flush(List<byte> pending, List<string> output)
        {
            if (pending.Count == 0)
                return;
            // An invalid byte run becomes one replacement character per byte, as tokenizers does.
            try
            {
                output.Add(new UTF8Encoding(false, true).GetString(pending.ToArray()));
            }
            catch (DecoderFallbackException)
            {
                output.AddRange(Enumerable.Repeat("\uFFFD", pending.Count));
            }
            pending.Clear();
        }

        private static string Strip(string token, char content, int start, int stop)
        {
            var from = 0;
            while (from < start && from < token.Length && token[from] == content)
                from++;
            var to = token.Length;
            while (token.Length - to < stop && to > from && token[to - 1] == content)
                to--;
            return token.Substring(from, to - from);
        }
    }
}
