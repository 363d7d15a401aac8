using System;
using System.Text.Json;

namespace XTuner.Training.Tokenization.HuggingFace
{
    /// <summary>Typed reads of tokenizer.json fields, failing with the field's name.</summary>
    internal static class JsonFields
    {
        public static string Type(JsonElement e) => String(e, "type") ?? throw new FormatException($"an entry has no \"type\": {Brief(e)}");

        public static string? String(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

        public static string RequiredString(JsonElement e, string name) =>
            String(e, name) ?? throw new FormatException($"\"{name}\" is missing or not a string in {Brief(e)}");

        public static bool Bool(JsonElement e, string name, bool fallback) =>
            e.TryGetProperty(name, out var v) && (v.ValueKind == JsonValueKind.True || v.ValueKind == JsonValueKind.False)
                ? v.GetBoolean()
                : fallback;

        public static int Int(JsonElement e, string name, int fallback) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;

        public static JsonElement? Object(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : (JsonElement?)null;

        public static JsonElement Array(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
                ? v
                : throw new FormatException($"\"{name}\" is missing or not an array in {Brief(e)}");

        /// <summary>A <c>{"String": ...}</c> or <c>{"Regex": ...}</c> pattern as a .NET regular expression.</summary>
        public static string Pattern(JsonElement e, string name)
        {
            var pattern = Object(e, name) ?? throw new FormatException($"\"{name}\" is missing in {Brief(e)}");
            if (String(pattern, "String") is string literal)
                return System.Text.RegularExpressions.Regex.Escape(literal);
            return String(pattern, "Regex") ?? throw new FormatException($"\"{name}\" is neither a String nor a Regex pattern");
        }

        public static string Brief(JsonElement e)
        {
            var text = e.GetRawText();
            return text.Length <= 80 ? text : text.Substring(0, 77) + "...";
        }
    }
}
