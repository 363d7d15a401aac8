using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace XTuner.Training.IO
{
    /// <summary>
    /// A safetensors file opened for reading: an 8-byte little-endian header length, a JSON header (dtype, shape and
    /// data_offsets per tensor, optional __metadata__), then the data. Tensors are streamed from disk straight into
    /// their destination, so loading a checkpoint never holds a second full copy in memory.
    /// </summary>
    public sealed class SafetensorsFile : IDisposable
    {
        private const long MaxHeaderBytes = 100L << 20;

        private readonly SafeFileHandle _handle;

        private SafetensorsFile(string path, SafeFileHandle handle, IReadOnlyDictionary<string, SafetensorsTensorInfo> tensors, IReadOnlyDictionary<string, string> metadata)
        {
            Path = path;
            _handle = handle;
            Tensors = tensors;
            Metadata = metadata;
        }

        public string Path { get; }

        /// <summary>The tensors, in header order.</summary>
        public IReadOnlyDictionary<string, SafetensorsTensorInfo> Tensors { get; }

        /// <summary>The header's __metadata__ (transformers writes format: pt).</summary>
        public IReadOnlyDictionary<string, string> Metadata { get; }

        public static SafetensorsFile Open(string path)
        {
            if (!BitConverter.IsLittleEndian)
                throw new PlatformNotSupportedException("safetensors data is little-endian; this host is not.");
            var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
            try
            {
                var (tensors, metadata) = ReadHeader(path, handle);
                return new SafetensorsFile(path, handle, tensors, metadata);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }

        /// <summary>A new CPU tensor holding <paramref name="name"/> as stored.</summary>
        public Tensor Read(string name)
        {
            var info = Info(name);
            var result = empty(info.Shape, info.DType);
            try
            {
                ReadBytes(info, result);
                return result;
            }
            catch
            {
                result.Dispose();
                throw;
            }
        }

        /// <summary>
        /// Copies <paramref name="name"/> into <paramref name="destination"/> (same shape, any floating dtype and
        /// device), converting as it goes. A contiguous CPU destination of the stored dtype is filled directly from disk.
        /// </summary>
        public void ReadInto(string name, Tensor destination)
        {
            var info = Info(name);
            if (!info.Shape.SequenceEqual(destination.shape))
                throw new InvalidDataException($"{Path}: tensor '{name}' has shape [{string.Join(", ", info.Shape)}]; expected [{string.Join(", ", destination.shape)}].");
            if (is_floating_point(info.DType) != is_floating_point(destination.dtype))
                throw new InvalidDataException($"{Path}: tensor '{name}' is {info.DType}; expected {destination.dtype}.");
            using var noGrad = no_grad();
            if (destination.device_type == DeviceType.CPU && destination.dtype == info.DType && destination.is_contiguous())
            {
                ReadBytes(info, destination);
                return;
            }
            using var staged = Read(name);
            destination.copy_(staged);
        }

        /// <summary>
        /// Copies <c>destination.numel()</c> elements of the flattened tensor <paramref name="name"/>, from element
        /// <paramref name="elementOffset"/> on, into <paramref name="destination"/> (any dtype and device): a ZeRO-3 rank
        /// reads only its shard's bytes of each tensor.
        /// </summary>
        public void ReadRangeInto(string name, long elementOffset, Tensor destination)
        {
            var info = Info(name);
            long count = destination.numel(), total = info.Shape.Aggregate(1L, (a, b) => a * b);
            if (elementOffset < 0 || elementOffset + count > total)
                throw new ArgumentOutOfRangeException(nameof(elementOffset), $"{Path}: elements [{elementOffset}, {elementOffset + count}) are outside '{name}', which has {total}.");
            using var noGrad = no_grad();
            using var staged = empty(new[] { count }, info.DType);
            ReadBytes(info.FileOffset + elementOffset * SafetensorsDType.Size(info.DType), staged, name);
            destination.copy_(staged.view(destination.shape));
        }

        public void Dispose() => _handle.Dispose();

        private SafetensorsTensorInfo Info(string name) =>
            Tensors.TryGetValue(name, out var info) ? info : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'.");

        private void ReadBytes(SafetensorsTensorInfo info, Tensor destination) => ReadBytes(info.FileOffset, destination, info.Name);

        private void ReadBytes(long fileOffset, Tensor destination, string name)
        {
            TensorBytes.ForEachSpan(destination, (span, offset) =>
            {
                var position = fileOffset + offset;
                while (span.Length > 0)
                {
                    var read = RandomAccess.Read(_handle, span, position);
                    if (read == 0)
                        throw new EndOfStreamException($"{Path}: the data of '{name}' is cut short.");
                    span = span.Slice(read);
                    position += read;
                }
            });
        }

        private static (IReadOnlyDictionary<string, SafetensorsTensorInfo>, IReadOnlyDictionary<string, string>) ReadHeader(string path, SafeFileHandle handle)
        {
            var fileLength = RandomAccess.GetLength(handle);
            Span<byte> prefix = stackalloc byte[8];
            if (fileLength < 8 || RandomAccess.Read(handle, prefix, 0) != 8)
                throw new InvalidDataException($"{path}: not a safetensors file (shorter than its 8-byte header length).");
            var headerLength = BinaryPrimitives.ReadInt64LittleEndian(prefix);
            if (headerLength <= 0 || headerLength > MaxHeaderBytes || 8 + headerLength > fileLength)
                throw new InvalidDataException($"{path}: not a safetensors file (header length {headerLength} in a file of {fileLength} bytes).");
            var headerBytes = new byte[headerLength];
            if (RandomAccess.Read(handle, headerBytes, 8) != headerLength)
                throw new InvalidDataException($"{path}: the header is cut short.");

            var dataStart = 8 + headerLength;
            var tensors = new Dictionary<string, SafetensorsTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            try
            {
                using var json = JsonDocument.Parse(headerBytes);
                foreach (var property in json.RootElement.EnumerateObject())
                {
                    if (property.Name == "__metadata__")
                    {
                        foreach (var entry in property.Value.EnumerateObject())
                            metadata[entry.Name] = entry.Value.GetString() ?? "";
                        continue;
                    }
                    var dtype = SafetensorsDType.Parse(property.Value.GetProperty("dtype").GetString() ?? "");
                    var shape = property.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                    var offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                    var expected = shape.Aggregate(1L, (a, b) => a * b) * SafetensorsDType.Size(dtype);
                    if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] - offsets[0] != expected || dataStart + offsets[1] > fileLength)
                        throw new InvalidDataException($"{path}: tensor '{property.Name}' has data_offsets [{string.Join(", ", offsets)}] that do not fit its {dtype} [{string.Join(", ", shape)}] in the file.");
                    tensors.Add(property.Name, new SafetensorsTensorInfo(property.Name, dtype, shape, dataStart + offsets[0], expected));
                }
            }
            catch (Exception e) when (e is JsonException || e is InvalidOperationException || e is KeyNotFoundException || e is FormatException)
            {
                throw new InvalidDataException($"{path}: the safetensors header is not valid ({e.Message}).", e);
            }
            return (tensors, metadata);
        }
    }
}
