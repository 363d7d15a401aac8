using System;
using System.IO;
using System.Text;

namespace XTuner.Training.Metrics
{
    /// <summary>
    /// Writes scalars in TensorBoard's event-file format (TFRecord framing of Event protobufs), so
    /// <c>tensorboard --logdir work_dir/tensorboard</c> plots the run. Protobuf and CRC32C are encoded here by hand:
    /// the format is small and stable, and pulling in TensorFlow's tooling for it would be far heavier.
    /// </summary>
    public sealed class TensorBoardWriter : IDisposable
    {
        private readonly FileStream _file;

        public TensorBoardWriter(string directory)
        {
            Directory.CreateDirectory(directory);
            var seconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            Path = System.IO.Path.Combine(directory, $"events.out.tfevents.{seconds}.{Environment.MachineName}");
            _file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
            var header = new ProtoWriter();
            header.Double(1, NowSeconds());
            header.String(3, "brain.Event:2");
            WriteRecord(header.ToArray());
        }

        public string Path { get; }

        /// <summary>Appends one scalar (tag, value) at a step and flushes, so a crash loses nothing written.</summary>
        public void Scalar(string tag, double value, long step)
        {
            var summaryValue = new ProtoWriter();
            summaryValue.String(1, tag);
            summaryValue.Float(2, (float)value);
            var summary = new ProtoWriter();
            summary.Message(1, summaryValue.ToArray());
            var ev = new ProtoWriter();
            ev.Double(1, NowSeconds());
            ev.Int64(2, step);
            ev.Message(5, summary.ToArray());
            WriteRecord(ev.ToArray());
        }

        public void Flush() => _file.Flush();

        private static double NowSeconds() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

        private void WriteRecord(byte[] data)
        {
            var length = BitConverter.GetBytes((ulong)data.Length);
            _file.Write(length, 0, 8);
            _file.Write(BitConverter.GetBytes(Crc32C.Masked(length)), 0, 4);
            _file.Write(data, 0, data.Length);
            _file.Write(BitConverter.GetBytes(Crc32C.Masked(data)), 0, 4);
        }

        public void Dispose()
        {
            _file.Flush();
            _file.Dispose();
        }

        /// <summary>The few protobuf wire types an Event needs.</summary>
        private sealed class ProtoWriter
        {
            private readonly MemoryStream _buffer = new MemoryStream();

            public void Double(int field, double value)
            {
                Tag(field, 1);
                _buffer.Write(BitConverter.GetBytes(value), 0, 8);
            }

            public void Float(int field, float value)
            {
                Tag(field, 5);
                _buffer.Write(BitConverter.GetBytes(value), 0, 4);
            }

            public void Int64(int field, long value)
            {
                Tag(field, 0);
                Varint((ulong)value);
            }

            public void String(int field, string value) => Message(field, Encoding.UTF8.GetBytes(value));

            public void Message(int field, byte[] bytes)
            {
                Tag(field, 2);
                Varint((ulong)bytes.Length);
                _buffer.Write(bytes, 0, bytes.Length);
            }

            public byte[] ToArray() => _buffer.ToArray();

            private void Tag(int field, int wireType) => Varint((ulong)((field << 3) | wireType));

            private void Varint(ulong v)
            {
                while (v >= 0x80)
                {
                    _buffer.WriteByte((byte)(v | 0x80));
                    v >>= 7;
                }
                _buffer.WriteByte((byte)v);
            }
        }
    }

    /// <summary>CRC-32C (Castagnoli), masked as TFRecord wants it.</summary>
    public static class Crc32C
    {
        private static readonly uint[] Table = BuildTable();

        private static uint[] BuildTable()
        {
            var table = new uint[256];
            for (uint i = 0; i < 256; i++)
            {
                uint c = i;
                for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
                table[i] = c;
            }
            return table;
        }

        public static uint Compute(byte[] data)
        {
            uint crc = 0xFFFFFFFFu;
            foreach (var b in data) crc = Table[(crc ^ b) & 0xff] ^ (crc >> 8);
            return crc ^ 0xFFFFFFFFu;
        }

        public static uint Masked(byte[] data)
        {
            var crc = Compute(data);
            return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
        }
    }
}
