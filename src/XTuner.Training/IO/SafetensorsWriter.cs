using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace XTuner.Training.IO
{
    /// <summary>Writes safetensors files that transformers and the safetensors library read.</summary>
    public static class SafetensorsWriter
    {
        /// <summary>
        /// Writes <paramref name="tensors"/> (any device) in the given order. Floating-point tensors are stored as
        /// <paramref name="floatDType"/> when given. Each tensor is brought to the CPU one at a time, so the file never
        /// needs a second copy of the whole model in memory.
        /// </summary>
        public static void Write(string path, IReadOnlyList<KeyValuePair<string, Tensor>> tensors, ScalarType? floatDType = null, IReadOnlyDictionary<string, string>? metadata = null)
        {
            if (!BitConverter.IsLittleEndian)
                throw new PlatformNotSupportedException("safetensors data is little-endian; this host is not.");
            var header = new JsonObject();
            var meta = new JsonObject { ["format"] = "pt" };
            if (metadata != null)
            {
                foreach (var pair in metadata)
                    meta[pair.Key] = pair.Value;
            }
            header["__metadata__"] = meta;
            var types = new ScalarType[tensors.Count];
            long offset = 0;
            for (var i = 0; i < tensors.Count; i++)
            {
                var (name, tensor) = (tensors[i].Key, tensors[i].Value);
                if (tensor.device_type == DeviceType.META)
                    throw new ArgumentException($"Tensor '{name}' is on the meta device and holds no data.");
                types[i] = StoredType(tensor.dtype, floatDType);
                var length = tensor.numel() * SafetensorsDType.Size(types[i]);
                header[name] = new JsonObject
                {
                    ["dtype"] = SafetensorsDType.Name(types[i]),
                    ["shape"] = new JsonArray(tensor.shape.Select(d => (JsonNode)d).ToArray()),
                    ["data_offsets"] = new JsonArray(offset, offset + length),
                };
                offset += length;
            }

            var json = Encoding.UTF8.GetBytes(header.ToJsonString());
            // The safetensors library pads the header with spaces so that the data starts 8-byte aligned.
            var padded = (json.Length + 7) / 8 * 8;
            using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(prefix, padded);
            stream.Write(prefix);
            stream.Write(json);
            for (var i = json.Length; i < padded; i++)
                stream.WriteByte((byte)' ');
            for (var i = 0; i < tensors.Count; i++)
            {
                using var scope = NewDisposeScope();
                var cpu = tensors[i].Value.detach().to(types[i], CPU).contiguous();
                TensorBytes.ForEachSpan(cpu, (span, _) => stream.Write(span));
            }
        }

        private static ScalarType StoredType(ScalarType type, ScalarType? floatDType) =>
            floatDType is ScalarType target && is_floating_point(type) ? target : type;
    }
}
