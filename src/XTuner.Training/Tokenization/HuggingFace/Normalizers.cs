using System;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace XTuner.Training.Tokenization.HuggingFace
{
    /// <summary>The tokenizer.json normalizers that decoder checkpoints use (Qwen2's NFC, Llama 2's Prepend + Replace).</summary>
    internal static class Normalizers
    {
        public static Func<string, string>? From(JsonElement? spec)
        {
            if (spec is not JsonElement e || e.ValueKind == JsonValueKind.Null)
                return null;
            var type = JsonFields.Type(e);
            switch (type)
            {
                case "Sequence":
                    var steps = JsonFields.Array(e, "normalizers").EnumerateArray().Select(n => From(n)).Where(n => n is not null).ToArray();
                    return text =>
                    {
                        foreach (var step in steps)
                            text = step!(text);
                        return text;
                    };
                case "NFC": return text => text.Normalize(NormalizationForm.FormC);
                case "NFD": return text => text.Normalize(NormalizationForm.FormD);
                case "NFKC": return text => text.Normalize(NormalizationForm.FormKC);
                case "NFKD": return text => text.Normalize(NormalizationForm.FormKD);
                case "Prepend":
                    var prefix = JsonFields.RequiredString(e, "prepend");
                    return text => text.Length == 0 ? text : prefix + text;
                case "Replace":
                    var pattern = new Regex(JsonFields.Pattern(e, "pattern"), RegexOptions.CultureInvariant);
                    var content = JsonFields.RequiredString(e, "content");
                    return text => pattern.Replace(text, content.Replace("$", "$$"));
                default:
                    throw new FormatException($"normalizer '{type}' is not supported (supported: Sequence, NFC, NFD, NFKC, NFKD, Prepend, Replace)");
            }
        }
    }
}
