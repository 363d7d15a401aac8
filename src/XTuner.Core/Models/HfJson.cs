using System.Text.Json.Nodes;

namespace XTuner.Core.Models
{
    /// <summary>Typed reads of config.json values; a missing key or a value of another type reads as null.</summary>
    public static class HfJson
    {
        public static string? Str(JsonObject o, string key) =>
            o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

        public static int? Int(JsonObject o, string key) =>
            o[key] is JsonValue v ? (v.TryGetValue<int>(out var i) ? i : v.TryGetValue<double>(out var d) ? (int)d : (int?)null) : null;

        public static double? Dbl(JsonObject o, string key) =>
            o[key] is JsonValue v && v.TryGetValue<double>(out var d) ? d : (double?)null;

        public static bool? Bool(JsonObject o, string key) =>
            o[key] is JsonValue v && v.TryGetValue<bool>(out var b) ? b : (bool?)null;
    }
}
