using System;
using System.Buffers.Binary;
using System.IO;
using System.Net.Sockets;
using System.Text;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// The rendezvous store's wire format: every message is a 4-byte little-endian length and a body written with
    /// <see cref="BinaryWriter"/> (UTF-8 strings). A client opens with <see cref="Hello"/> and the server echoes it,
    /// so that a MASTER_PORT taken by some other service fails clearly instead of hanging.
    /// </summary>
    internal static class StoreProtocol
    {
        public const string Hello = "xtuner-store/1";

        /// <summary>Far above any key or value a rendezvous stores; guards against reading a stranger's bytes as a length.</summary>
        public const int MaxMessageBytes = 64 << 20;

        public enum Op : byte
        {
            Set = 1,
            Get = 2,
            Add = 3,
            Wait = 4,
        }

        public enum Status : byte
        {
            Ok = 0,
            TimedOut = 1,
        }

        public static void Send(Socket socket, Action<BinaryWriter> write)
        {
            using var body = new MemoryStream();
            body.Write(new byte[4], 0, 4);
            using (var writer = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true)) write(writer);
            var bytes = body.GetBuffer();
            BinaryPrimitives.WriteInt32LittleEndian(bytes, (int)body.Length - 4);
            socket.SendAll(new ReadOnlySpan<byte>(bytes, 0, (int)body.Length));
        }

        /// <exception cref="EndOfStreamException">The other side closed the connection.</exception>
        /// <exception cref="InvalidDataException">The length is not one this protocol sends.</exception>
        public static BinaryReader Receive(Socket socket)
        {
            Span<byte> header = stackalloc byte[4];
            socket.ReceiveAll(header);
            int length = BinaryPrimitives.ReadInt32LittleEndian(header);
            if (length < 0 || length > MaxMessageBytes) throw new InvalidDataException($"a message of {length} bytes is not part of the store protocol");
            var body = new byte[length];
            socket.ReceiveAll(body);
            return new BinaryReader(new MemoryStream(body), Encoding.UTF8);
        }

        public static void WriteKeys(BinaryWriter writer, System.Collections.Generic.IReadOnlyList<string> keys)
        {
            writer.Write(keys.Count);
            foreach (var key in keys) writer.Write(key);
        }

        public static string[] ReadKeys(BinaryReader reader)
        {
            var keys = new string[reader.ReadInt32()];
            for (int i = 0; i < keys.Length; i++) keys[i] = reader.ReadString();
            return keys;
        }
    }
}
