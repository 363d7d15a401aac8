using System;
using System.Buffers.Binary;

namespace XTuner.Training.Tokenization.SentencePiece
{
    /// <summary>Just enough of the protobuf wire format to read a SentencePiece model: fields of varints, fixed32 and bytes.</summary>
    internal ref struct ProtobufReader
    {
        public const int Varint = 0;
        public const int Fixed64 = 1;
        public const int LengthDelimited = 2;
        public const int Fixed32 = 5;

        private readonly ReadOnlySpan<byte> _data;
        private int _position;

        public ProtobufReader(ReadOnlySpan<byte> data)
        {
            _data = data;
            _position = 0;
        }

        /// <summary>Moves to the next field; false at the end of the message.</summary>
        public bool Next(out int field, out int wireType)
        {
            if (_position >= _data.Length)
            {
                field = 0;
                wireType = 0;
                return false;
            }
            var key = ReadVarint();
            field = (int)(key >> 3);
            wireType = (int)(key & 7);
            return true;
        }

        public ulong ReadVarint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_position >= _data.Length)
                    throw new FormatException("truncated varint");
                var b = _data[_position++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                    return value;
            }
            throw new FormatException("varint longer than 10 bytes");
        }

        /// <summary>A varint as protobuf's int32 (negative numbers are sign-extended to 64 bits on the wire).</summary>
        public int ReadInt32() => unchecked((int)(long)ReadVarint());

        public float ReadFloat()
        {
            var bytes = Take(4);
            return BinaryPrimitives.ReadSingleLittleEndian(bytes);
        }

        public ReadOnlySpan<byte> ReadBytes() => Take(checked((int)ReadVarint()));

        public void Skip(int wireType)
        {
            switch (wireType)
            {
                case Varint: ReadVarint(); break;
                case Fixed64: Take(8); break;
                case LengthDelimited: ReadBytes(); break;
                case Fixed32: Take(4); break;
                default: throw new FormatException($"unsupported protobuf wire type {wireType}");
            }
        }

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count < 0 || _position + count > _data.Length)
                throw new FormatException("truncated field");
            var span = _data.Slice(_position, count);
            _position += count;
            return span;
        }
    }
}
