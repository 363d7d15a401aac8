using System;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace XTuner.Training.Data.Cache
{
    /// <summary>
    /// A 64-bit checksum of one sequence as the trainer gets it: input ids, labels and position ids, padding included.
    /// The cache writer computes it piece by piece as it stores documents; the reader recomputes it from what it rebuilt,
    /// so a damaged file or a wrong rebuild never trains silently.
    /// </summary>
    internal sealed class SequenceChecksum
    {
        private readonly XxHash3 _ids = new XxHash3();
        private readonly XxHash3 _labels = new XxHash3();
        private readonly XxHash3 _positions = new XxHash3();

        public void Append(ReadOnlySpan<int> ids, ReadOnlySpan<int> labels, ReadOnlySpan<int> positions)
        {
            _ids.Append(MemoryMarshal.AsBytes(ids));
            _labels.Append(MemoryMarshal.AsBytes(labels));
            _positions.Append(MemoryMarshal.AsBytes(positions));
        }

        /// <summary>The checksum of everything appended since the last call; starts afresh.</summary>
        public ulong Finish()
        {
            var value = Combine(_ids.GetCurrentHashAsUInt64(), _labels.GetCurrentHashAsUInt64(), _positions.GetCurrentHashAsUInt64());
            _ids.Reset();
            _labels.Reset();
            _positions.Reset();
            return value;
        }

        public static ulong Of(int[] ids, int[] labels, int[] positions) => Combine(
            XxHash3.HashToUInt64(MemoryMarshal.AsBytes(ids.AsSpan())),
            XxHash3.HashToUInt64(MemoryMarshal.AsBytes(labels.AsSpan())),
            XxHash3.HashToUInt64(MemoryMarshal.AsBytes(positions.AsSpan())));

        private static ulong Combine(ulong ids, ulong labels, ulong positions)
        {
            Span<byte> parts = stackalloc byte[24];
            BinaryPrimitives.WriteUInt64LittleEndian(parts, ids);
            BinaryPrimitives.WriteUInt64LittleEndian(parts[8..], labels);
            BinaryPrimitives.WriteUInt64LittleEndian(parts[16..], positions);
            return XxHash3.HashToUInt64(parts);
        }
    }
}
