using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Text;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// The rendezvous store's wire format, after the <see cref="Handshake"/>: every message is a 4-byte little-endian
    /// length and a body written with <see cref="BinaryWriter"/> (UTF-8 strings). A request is an <see cref="Op"/> and
    /// its arguments; the answer starts with a <see cref="Status"/>. Every size a request can name is bounded here, so
    /// that no client, broken or hostile, makes rank 0 allocate or keep more than these limits allow.
    /// </summary>
    internal static class StoreProtocol
    {
        /// <summary>Names the store's handshake (see <see cref="Handshake"/>).</summary>
        public const string Magic = "XTSTORE2";

        /// <summary>Far above any request a run sends (a barrier of 10,000 ranks is about 300 KB).</summary>
        public const int MaxMessageBytes = 4 << 20;

        /// <summary>A key's UTF-8 bytes.</summary>
        public const int MaxKeyBytes = 1024;

        /// <summary>A value's bytes (NCCL ids are 128, addresses and failure messages a few hundred).</summary>
        public const int MaxValueBytes = 1 << 20;

        /// <summary>Keys in one Wait or Delete.</summary>
        public const int MaxKeysPerRequest = 65536;

        /// <summary>Keys and values held at once; barriers remove their keys, so a run holds a few KB per rank.</summary>
        public const long MaxStoreBytes = 64L << 20;

        /// <summary>The longest wait a request may ask for.</summary>
        public static readonly TimeSpan MaxWait = TimeSpan.FromDays(7);

        public enum Op : byte
        {
            Set = 1,
            Get = 2,
            Add = 3,
            Wait = 4,
            Delete = 5,
        }

        public enum Status : byte
        {
            Ok = 0,
            TimedOut = 1,

            /// <summary>A limit above was reached; a message follows.</summary>
            TooLarge = 2,

            /// <summary>The request cannot be carried out (no such operation, a value that is no counter); a message follows.</summary>
            Invalid = 3,
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
            if (length < 0 || length > MaxMessageBytes)
                throw new InvalidDataException($"a message of {length} bytes is beyond the store protocol's {MaxMessageBytes >> 20} MiB");
            var body = new byte[length];
            socket.ReceiveAll(body);
            return new BinaryReader(new MemoryStream(body), Encoding.UTF8);
        }

        public static void WriteKeys(BinaryWriter writer, IReadOnlyList<string> keys)
        {
            writer.Write(keys.Count);
            foreach (var key in keys) writer.Write(key);
        }

        /// <exception cref="StoreRequestException">More keys than <see cref="MaxKeysPerRequest"/>, or a key too long.</exception>
        public static string[] ReadKeys(BinaryReader reader)
        {
            int count = reader.ReadInt32();
            if (count < 0) throw new StoreRequestException(Status.Invalid, $"a key count of {count}");
            if (count > MaxKeysPerRequest) throw new StoreRequestException(Status.TooLarge, $"{count} keys in one request (at most {MaxKeysPerRequest})");
            var keys = new string[count];
            for (int i = 0; i < keys.Length; i++) keys[i] = ReadKey(reader);
            return keys;
        }

        /// <exception cref="StoreRequestException">The key is longer than <see cref="MaxKeyBytes"/>.</exception>
        public static string ReadKey(BinaryReader reader)
        {
            var key = reader.ReadString();
            CheckKey(key);
            return key;
        }

        public static void CheckKey(string key)
        {
            int bytes = Encoding.UTF8.GetByteCount(key);
            if (bytes > MaxKeyBytes) throw new StoreRequestException(Status.TooLarge, $"a key of {bytes} bytes (at most {MaxKeyBytes})");
        }

        public static void CheckValue(int bytes)
        {
            if (bytes < 0) throw new StoreRequestException(Status.Invalid, $"a value of {bytes} bytes");
            if (bytes > MaxValueBytes) throw new StoreRequestException(Status.TooLarge, $"a value of {bytes} bytes (at most {MaxValueBytes >> 20} MiB)");
        }

        /// <summary>A wait in milliseconds as a request carries it, clamped to [0, <see cref="MaxWait"/>].</summary>
        public static TimeSpan ReadWait(BinaryReader reader)
        {
            long ms = reader.ReadInt64();
            return ms <= 0 ? TimeSpan.Zero : ms >= (long)MaxWait.TotalMilliseconds ? MaxWait : TimeSpan.FromMilliseconds(ms);
        }

        public static long WaitMilliseconds(TimeSpan wait) =>
            (long)Math.Min(MaxWait.TotalMilliseconds, Math.Max(0, Math.Ceiling(wait.TotalMilliseconds)));
    }

    /// <summary>A request the store does not carry out; it answers with the status and message, and serves on.</summary>
    internal sealed class StoreRequestException : Exception
    {
        public StoreRequestException(StoreProtocol.Status status, string message)
            : base(message)
        {
            Status = status;
        }

        public StoreProtocol.Status Status { get; }
    }
}
