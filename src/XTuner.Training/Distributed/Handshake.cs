using System;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// Mutual challenge-response over a fresh connection, before either side reads anything else from it: each side
    /// proves that it knows the run's secret (<see cref="Core.Launch.RunToken"/>) with an HMAC over both sides' random
    /// nonces, so the secret never crosses the wire and a recorded exchange cannot be replayed. Fixed-size frames, so
    /// that a stranger's bytes are never taken for a length:
    /// <code>
    /// dialer   -> listener  hello     magic[8] a[4] b[4] nonce[32]      (a, b: who is calling whom)
    /// listener -> dialer    challenge status[1] nonce[32] mac[32]       (status Busy: no mac, try again later)
    /// dialer   -> listener  proof     mac[32]
    /// listener -> dialer    verdict   status[1] length[1] reason[length]   (a reason only to a dialer that proved the secret)
    /// </code>
    /// The listener proves first, so a dialer with another run's secret learns that at once and can say so. The
    /// handshake authenticates the two ends, not the bytes after it (no encryption: the tensors travel in clear, as
    /// with NCCL and torch.distributed; run across networks you trust).
    /// </summary>
    internal sealed class Handshake
    {
        public const int MagicBytes = 8;
        private const int NonceBytes = 32;
        private const int MacBytes = 32;
        private const int HelloBytes = MagicBytes + 8 + NonceBytes;

        private const byte Accepted = 0;
        private const byte Busy = 1;
        private const byte Refused = 2;

        private readonly byte[] _key;
        private readonly byte[] _magic;

        /// <param name="magic">Eight bytes that name the protocol (the store's and the peers' differ).</param>
        /// <param name="token">The run's secret; null or empty in a run without one (then the handshake only checks the protocol).</param>
        public Handshake(string magic, string? token)
        {
            _magic = Encoding.ASCII.GetBytes(magic);
            if (_magic.Length != MagicBytes) throw new ArgumentException("the magic is eight ASCII bytes", nameof(magic));
            // Hashed so that a secret of any length is a key of one size, and a different purpose never shares it.
            _key = SHA256.HashData(Encoding.UTF8.GetBytes("xtuner-run-token/1\n" + (token ?? "")));
        }

        /// <summary>
        /// The dialer's side: says it is <paramref name="a"/> calling <paramref name="b"/>, checks the listener's
        /// proof, gives its own. Returns false when the listener is busy (at its connection limit): try again.
        /// </summary>
        /// <exception cref="HandshakeException">The listener is no xtuner peer, knows another secret, or refused this one.</exception>
        public bool Dial(Socket socket, int a, int b)
        {
            Span<byte> hello = stackalloc byte[HelloBytes];
            _magic.CopyTo(hello);
            BinaryPrimitives.WriteInt32LittleEndian(hello.Slice(MagicBytes), a);
            BinaryPrimitives.WriteInt32LittleEndian(hello.Slice(MagicBytes + 4), b);
            var ours = hello.Slice(MagicBytes + 8, NonceBytes);
            RandomNumberGenerator.Fill(ours);
            socket.SendAll(hello);

            Span<byte> status = stackalloc byte[1];
            Receive(socket, status, "the challenge");
            if (status[0] == Busy) return false;
            if (status[0] != Accepted) throw new HandshakeException(HandshakeFailure.NotXTuner, "it answered with something else than an xtuner challenge");
            Span<byte> challenge = stackalloc byte[NonceBytes + MacBytes];
            Receive(socket, challenge, "the challenge");
            var theirs = challenge.Slice(0, NonceBytes);
            if (!CryptographicOperations.FixedTimeEquals(challenge.Slice(NonceBytes), Mac("listener", a, b, ours, theirs)))
                throw new HandshakeException(HandshakeFailure.WrongToken, "it does not know this run's token");
            socket.SendAll(Mac("dialer", a, b, theirs, ours));
            Span<byte> verdict = stackalloc byte[2];
            Receive(socket, verdict, "the verdict");
            if (verdict[0] == Accepted) return true;
            var reason = new byte[verdict[1]];
            Receive(socket, reason, "the verdict");
            throw reason.Length == 0
                ? new HandshakeException(HandshakeFailure.WrongToken, "it refused this rank's proof of the run's token")
                : new HandshakeException(HandshakeFailure.Refused, "it refused this rank: " + Encoding.UTF8.GetString(reason));
        }

        /// <summary>
        /// The listener's side: reads the hello (the magic first, so that a stranger's bytes end it at once), lets
        /// <paramref name="check"/> refuse who is calling whom (a reason, or null), proves the secret and checks the
        /// dialer's proof. Returns (a, b) of the hello.
        /// </summary>
        /// <exception cref="HandshakeException">Not an xtuner dialer, a wrong secret, or refused by <paramref name="check"/>; the connection is then useless.</exception>
        public (int A, int B) Accept(Socket socket, Func<int, int, string?> check)
        {
            Span<byte> hello = stackalloc byte[HelloBytes];
            Receive(socket, hello.Slice(0, MagicBytes), "the hello");
            if (!hello.Slice(0, MagicBytes).SequenceEqual(_magic))
                throw new HandshakeException(HandshakeFailure.NotXTuner, $"it sent {Describe(hello.Slice(0, MagicBytes))}, not an xtuner hello");
            Receive(socket, hello.Slice(MagicBytes), "the hello");
            int a = BinaryPrimitives.ReadInt32LittleEndian(hello.Slice(MagicBytes));
            int b = BinaryPrimitives.ReadInt32LittleEndian(hello.Slice(MagicBytes + 4));
            var theirs = hello.Slice(MagicBytes + 8, NonceBytes);

            Span<byte> challenge = stackalloc byte[1 + NonceBytes + MacBytes];
            challenge[0] = Accepted;
            var ours = challenge.Slice(1, NonceBytes);
            RandomNumberGenerator.Fill(ours);
            Mac("listener", a, b, theirs, ours).CopyTo(challenge.Slice(1 + NonceBytes));
            socket.SendAll(challenge);

            Span<byte> proof = stackalloc byte[MacBytes];
            Receive(socket, proof, "the proof");
            bool valid = CryptographicOperations.FixedTimeEquals(proof, Mac("dialer", a, b, ours, theirs));
            var reason = valid ? check(a, b) : "it does not know this run's token";
            if (reason == null)
            {
                socket.SendAll(new[] { Accepted, (byte)0 });
                return (a, b);
            }
            // Why, only to a dialer that proved the secret: a stranger learns nothing about this run.
            var why = valid ? Truncate(Encoding.UTF8.GetBytes(reason), 255) : Array.Empty<byte>();
            var verdict = new byte[2 + why.Length];
            verdict[0] = Refused;
            verdict[1] = (byte)why.Length;
            why.CopyTo(verdict, 2);
            socket.SendAll(verdict);
            throw new HandshakeException(valid ? HandshakeFailure.Refused : HandshakeFailure.WrongToken, reason);
        }

        private static byte[] Truncate(byte[] bytes, int max) => bytes.Length <= max ? bytes : bytes.AsSpan(0, max).ToArray();

        /// <summary>Tells a dialer that this listener takes no more connections now (before its hello is read).</summary>
        public static void SendBusy(Socket socket) => socket.SendAll(new[] { Busy });

        private byte[] Mac(string role, int a, int b, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
        {
            var role8 = Encoding.ASCII.GetBytes(role);
            var message = new byte[role8.Length + MagicBytes + 8 + first.Length + second.Length];
            var span = message.AsSpan();
            role8.CopyTo(span);
            _magic.CopyTo(span.Slice(role8.Length));
            BinaryPrimitives.WriteInt32LittleEndian(span.Slice(role8.Length + MagicBytes), a);
            BinaryPrimitives.WriteInt32LittleEndian(span.Slice(role8.Length + MagicBytes + 4), b);
            first.CopyTo(span.Slice(role8.Length + MagicBytes + 8));
            second.CopyTo(span.Slice(role8.Length + MagicBytes + 8 + first.Length));
            return HMACSHA256.HashData(_key, message);
        }

        private static void Receive(Socket socket, Span<byte> buffer, string what)
        {
            try
            {
                socket.ReceiveAll(buffer);
            }
            catch (System.IO.EndOfStreamException)
            {
                throw new HandshakeException(HandshakeFailure.Closed, $"it closed the connection before {what}");
            }
        }

        // Printable ASCII as text ("GET / HT"), anything else as hex: enough for a log line to say what knocked.
        private static string Describe(ReadOnlySpan<byte> bytes)
        {
            foreach (var b in bytes)
                if (b < 0x20 || b > 0x7e) return "bytes " + Convert.ToHexString(bytes).ToLowerInvariant();
            return "'" + Encoding.ASCII.GetString(bytes) + "'";
        }
    }

    internal enum HandshakeFailure
    {
        /// <summary>The other side speaks another protocol.</summary>
        NotXTuner,

        /// <summary>The other side knows another secret (or none).</summary>
        WrongToken,

        /// <summary>The secret is right but the listener does not take this caller (not a rank it expects).</summary>
        Refused,

        /// <summary>The other side closed the connection during the handshake.</summary>
        Closed,
    }

    /// <summary>Why a handshake failed; the connection is to be closed.</summary>
    internal sealed class HandshakeException : Exception
    {
        public HandshakeException(HandshakeFailure failure, string message)
            : base(message)
        {
            Failure = failure;
        }

        public HandshakeFailure Failure { get; }
    }
}
