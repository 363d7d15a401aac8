using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace XTuner.Training.IO
{
    /// <summary>The safetensors dtype names and the torch types they hold.</summary>
    public static class SafetensorsDType
    {
        private static readonly Dictionary<string, ScalarType> Types = new Dictionary<string, ScalarType>(StringComparer.Ordinal)
        {
            ["F64"] = ScalarType.Float64,
            ["F32"] = ScalarType.Float32,
            ["F16"] = ScalarType.Float16,
            ["BF16"] = ScalarType.BFloat16,
            ["I64"] = ScalarType.Int64,
            ["I32"] = ScalarType.Int32,
            ["I16"] = ScalarType.Int16,
            ["I8"] = ScalarType.Int8,
            ["U8"] = ScalarType.Byte,
            ["BOOL"] = ScalarType.Bool,
        };

        public static ScalarType Parse(string name) =>
            Types.TryGetValue(name, out var type)
                ? type
                : throw new NotSupportedException($"safetensors dtype '{name}' is not supported; supported: {string.Join(", ", Types.Keys)}.");

        public static string Name(ScalarType type)
        {
            foreach (var pair in Types.Where(pair => pair.Value == type))
                return pair.Key;
            throw new NotSupportedException($"{type} has no safetensors dtype.");
        }

        public static int Size(ScalarType type) => type switch
        {
            ScalarType.Float64 or ScalarType.Int64 => 8,
            ScalarType.Float32 or ScalarType.Int32 => 4,
            ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
            ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
            _ => throw new NotSupportedException($"{type} has no safetensors dtype."),
        };
    }
}
