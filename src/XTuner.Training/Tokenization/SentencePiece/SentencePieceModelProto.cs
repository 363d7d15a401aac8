using System;
using System.Collections.Generic;
using System.Text;

namespace XTuner.Training.Tokenization.SentencePiece
{
    /// <summary>The parts of a tokenizer.model (sentencepiece's <c>ModelProto</c>) that encoding depends on.</summary>
    internal sealed class SentencePieceModelProto
    {
        public const int UnigramModel = 1;
        public const int BpeModel = 2;

        public List<(string Piece, float Score, PieceType Type)> Pieces { get; } = new List<(string, float, PieceType)>();

        // TrainerSpec, with sentencepiece's defaults where a field is absent.
        public int ModelType { get; private set; } = UnigramModel;
        public bool ByteFallback { get; private set; }
        public bool TreatWhitespaceAsSuffix { get; private set; }
        public int UnkId { get; private set; }
        public int BosId { get; private set; } = 1;
        public int EosId { get; private set; } = 2;
        public int PadId { get; private set; } = -1;

        // NormalizerSpec.
        public string NormalizerName { get; private set; } = "";
        public int PrecompiledCharsmapLength { get; private set; }
        public bool AddDummyPrefix { get; private set; } = true;
        public bool RemoveExtraWhitespaces { get; private set; } = true;
        public bool EscapeWhitespaces { get; private set; } = true;

        public static SentencePieceModelProto Parse(ReadOnlySpan<byte> data)
        {
            var model = new SentencePieceModelProto();
            var reader = new ProtobufReader(data);
            while (reader.Next(out var field, out var wire))
            {
                switch (field)
                {
                    case 1 when wire == ProtobufReader.LengthDelimited:
                        model.Pieces.Add(ReadPiece(reader.ReadBytes()));
                        break;
                    case 2 when wire == ProtobufReader.LengthDelimited:
                        model.ReadTrainerSpec(reader.ReadBytes());
                        break;
                    case 3 when wire == ProtobufReader.LengthDelimited:
                        model.ReadNormalizerSpec(reader.ReadBytes());
                        break;
                    default:
                        reader.Skip(wire);
                        break;
                }
            }
            return model;
        }

        private static (string, float, PieceType) ReadPiece(ReadOnlySpan<byte> data)
        {
            var piece = "";
            var score = 0f;
            var type = PieceType.Normal;
            var reader = new ProtobufReader(data);
            while (reader.Next(out var field, out var wire))
            {
                switch (field)
                {
                    case 1 when wire == ProtobufReader.LengthDelimited: piece = Encoding.UTF8.GetString(reader.ReadBytes()); break;
                    case 2 when wire == ProtobufReader.Fixed32: score = reader.ReadFloat(); break;
                    case 3 when wire == ProtobufReader.Varint: type = (PieceType)reader.ReadInt32(); break;
                    default: reader.Skip(wire); break;
                }
            }
            return (piece, score, type);
        }

        private void ReadTrainerSpec(ReadOnlySpan<byte> data)
        {
            var reader = new ProtobufReader(data);
            while (reader.Next(out var field, out var wire))
            {
                if (wire != ProtobufReader.Varint)
                {
                    reader.Skip(wire);
                    continue;
                }
                var value = reader.ReadInt32();
                switch (field)
                {
                    case 3: ModelType = value; break;
                    case 24: TreatWhitespaceAsSuffix = value != 0; break;
                    case 35: ByteFallback = value != 0; break;
                    case 40: UnkId = value; break;
                    case 41: BosId = value; break;
                    case 42: EosId = value; break;
                    case 43: PadId = value; break;
                }
            }
        }

        private void ReadNormalizerSpec(ReadOnlySpan<byte> data)
        {
            var reader = new ProtobufReader(data);
            while (reader.Next(out var field, out var wire))
            {
                switch (field)
                {
                    case 1 when wire == ProtobufReader.LengthDelimited: NormalizerName = Encoding.UTF8.GetString(reader.ReadBytes()); break;
                    case 2 when wire == ProtobufReader.LengthDelimited: PrecompiledCharsmapLength = reader.ReadBytes().Length; break;
                    case 3 when wire == ProtobufReader.Varint: AddDummyPrefix = reader.ReadVarint() != 0; break;
                    case 4 when wire == ProtobufReader.Varint: RemoveExtraWhitespaces = reader.ReadVarint() != 0; break;
                    case 5 when wire == ProtobufReader.Varint: EscapeWhitespaces = reader.ReadVarint() != 0; break;
                    default: reader.Skip(wire); break;
                }
            }
        }
    }
}
