using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace XTuner.Training.IO
{
    /// <summary><c>model.safetensors.index.json</c>: which shard holds each tensor of a sharded checkpoint.</summary>
    public static class SafetensorsIndex
    {
        public const string FileName = "model.safetensors.index.json";

        /// <summary>Tensor name -> shard file name.</summary>
        public static IReadOnlyDictionary<string, string> Read(string path)
        {
            try
            {
                var root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject;
                var map = root?["weight_map"] as JsonObject
                    ?? throw new InvalidDataException($"{path}: no weight_map.");
                var result = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var pair in map)
                    result[pair.Key] = pair.Value?.GetValue<string>() ?? throw new InvalidDataException($"{path}: tensor '{pair.Key}' has no shard.");
                return result;
            }
            catch (Exception e) when (e is JsonException || e is InvalidOperationException || e is FormatException)
            {
                throw new InvalidDataException($"{path}: not a valid safetensors index ({e.Message}).", e);
            }
        }

        public static void Write(string path, long totalSize, IEnumerable<KeyValuePair<string, string>> weightMap)
        {
            var map = new JsonObject();
            foreach (var pair in weightMap)
                map[pair.Key] = pair.Value;
            var root = new JsonObject
            {
                ["metadata"] = new JsonObject { ["total_size"] = totalSize },
                ["weight_map"] = map,
            };
            File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }
    }
}
