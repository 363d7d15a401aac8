using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using Xunit;
using Xunit.Abstractions;

namespace XTuner.Training.Tests.Distributed
{
    /// <summary>
    /// A stranger on the host (no secret, raw sockets) against a real rank process: whatever it sends to the rendezvous
    /// store or to a peer port, the rank closes that connection, says so in its log, and trains on with the others.
    /// The bytes are what an attacker would send (the store's earlier protocol among them), not what xtuner sends.
    /// </summary>
    [Collection(DistributedCollection.Name)]
    public sealed class RendezvousAttackTests
    {
        private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
        private static readonly Dictionary<string, string> Token = new Dictionary<string, string> { ["XTUNER_RUN_TOKEN"] = "the-secret-of-this-test-run" };
        private static readonly string[] Checks = { "check-collectives", "--sizes", "7", "--ops", "all_reduce", "--dtypes", "float32", "--timeout", "60" };

        private readonly ITestOutputHelper _log;

        public RendezvousAttackTests(ITestOutputHelper log) => _log = log;

        public static IEnumerable<object[]> StoreAttacks() => StorePayloads.Keys.Select(k => new object[] { k });

        public static IEnumerable<object[]> PeerAttacks() => PeerPayloads.Keys.Select(k => new object[] { k });

        /// <summary>What strangers send to the store's port: garbage, other protocols, and the old store protocol misused.</summary>
        private static readonly Dictionary<string, byte[]> StorePayloads = new Dictionary<string, byte[]>
        {
            ["64 random bytes"] = RandomBytes(64),
            ["an HTTP request"] = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
            ["a hello whose string length is garbage"] = Frame(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }),
            ["a 2 GiB length prefix"] = new byte[] { 0xFF, 0xFF, 0xFF, 0x7F },
            ["a negative length prefix"] = new byte[] { 0x00, 0x00, 0x00, 0x80 },
            ["an unknown operation"] = Concat(OldHello(), Frame(new byte[] { 99 })),
            ["a negative key count"] = Concat(OldHello(), Frame(Body(w => { w.Write((byte)4); w.Write(-1); w.Write(10L); }))),
            ["a huge timeout"] = Concat(OldHello(), Frame(Body(w => { w.Write((byte)2); w.Write("k"); w.Write(long.MaxValue); }))),
            ["an add on a value that is no counter"] = Concat(OldHello(),
                Frame(Body(w => { w.Write((byte)1); w.Write("x"); w.Write(3); w.Write(Encoding.ASCII.GetBytes("abc")); })),
                Frame(Body(w => { w.Write((byte)3); w.Write("x"); w.Write(1L); }))),
        };

        private static readonly Dictionary<string, byte[]> PeerPayloads = new Dictionary<string, byte[]>
        {
            ["64 random bytes"] = RandomBytes(64),
            ["an HTTP request"] = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
            ["the old peer hello from rank -1"] = new byte[] { 0x58, 0x54, 0x50, 0x4D, 0xFF, 0xFF, 0xFF, 0xFF },
        };

        [Theory]
        [MemberData(nameof(StoreAttacks))]
        public void A_stranger_on_the_store_port_is_closed_and_logged_while_rank_0_lives_on(string attack)
        {
            int port = FreePort.Next();
            using var rank0 = XTunerProcess.Start(0, 2, port, Token, Checks);
            Assert.True(rank0.WaitForListeners(2, Limit), "rank 0 did not start listening\n" + rank0);

            Send(port, StorePayloads[attack]);

            Thread.Sleep(500);
            Assert.False(rank0.HasExited, $"rank 0 died of {attack}:\n{rank0}");
            Assert.True(WaitFor(() => rank0.Error.Contains("closed a connection from 127.0.0.1"), TimeSpan.FromSeconds(15)), rank0.ToString());
        }

        [Theory]
        [MemberData(nameof(PeerAttacks))]
        public void A_stranger_on_a_peer_port_is_closed_and_logged_while_the_rank_lives_on(string attack)
        {
            int port = FreePort.Next();
            using var rank0 = XTunerProcess.Start(0, 2, port, Token, Checks);
            Assert.True(rank0.WaitForListeners(2, Limit), "rank 0 did not start listening\n" + rank0);
            int peerPort = rank0.ListeningPorts().Single(p => p != port);

            Send(peerPort, PeerPayloads[attack]);

            Thread.Sleep(500);
            Assert.False(rank0.HasExited, $"rank 0 died of {attack} on its peer port:\n{rank0}");
            Assert.True(WaitFor(() => rank0.Error.Contains("closed a connection from 127.0.0.1"), TimeSpan.FromSeconds(15)), rank0.ToString());
        }

        [Fact]
        public void After_every_attack_the_ranks_still_meet_and_run_their_collectives()
        {
            int port = FreePort.Next();
            using var rank0 = XTunerProcess.Start(0, 2, port, Token, Checks);
            Assert.True(rank0.WaitForListeners(2, Limit), "rank 0 did not start listening\n" + rank0);
            int peerPort = rank0.ListeningPorts().Single(p => p != port);
            foreach (var payload in StorePayloads.Values) Send(port, payload);
            foreach (var payload in PeerPayloads.Values) Send(peerPort, payload);

            using var rank1 = XTunerProcess.Start(1, 2, port, Token, Checks);
            var exit1 = rank1.WaitForExit(Limit);
            var exit0 = rank0.WaitForExit(Limit);

            _log.WriteLine(rank0.Error);
            Assert.True(exit0 == 0 && exit1 == 0, $"{rank0}\n{rank1}");
            Assert.Contains("checks passed on 2 rank(s)", rank0.Output);
            Assert.Contains("rendezvous store", rank0.Error);
        }

        [Fact]
        public void A_stranger_cannot_rewrite_a_peers_address_in_the_store()
        {
            int port = FreePort.Next();
            using var rank0 = XTunerProcess.Start(0, 2, port, Token, Checks);
            Assert.True(rank0.WaitForListeners(2, Limit), "rank 0 did not start listening\n" + rank0);
            var impostor = new TcpListener(IPAddress.Loopback, 0);
            impostor.Start();
            try
            {
                var address = Encoding.UTF8.GetBytes("127.0.0.1:" + ((IPEndPoint)impostor.LocalEndpoint).Port);
                var set = Concat(OldHello(), Frame(Body(w => { w.Write((byte)1); w.Write("peer/1"); w.Write(address.Length); w.Write(address); })));
                var answer = Send(port, set, readBack: true);
                Assert.False(answer.Length >= 4 + 15 + 4 + 1, $"the store took the stranger's write ({answer.Length} bytes answered)");

                using var rank1 = XTunerProcess.Start(1, 2, port, Token, Checks);
                Assert.True(rank1.WaitForExit(Limit) == 0 && rank0.WaitForExit(Limit) == 0, $"{rank0}\n{rank1}");
                Assert.False(impostor.Pending(), "rank 0 dialled the stranger's address");
            }
            finally
            {
                impostor.Stop();
            }
        }

        [Fact]
        public void A_flood_of_large_writes_from_strangers_leaves_rank_0s_memory_as_it_was()
        {
            int port = FreePort.Next();
            using var rank0 = XTunerProcess.Start(0, 2, port, Token, Checks);
            Assert.True(rank0.WaitForListeners(2, Limit), "rank 0 did not start listening\n" + rank0);
            Thread.Sleep(500);
            long before = rank0.ResidentBytes();

            const int MiB = 1 << 20;
            // One 60 MiB set; each of the ten writes gives it another key (flood/0 ... flood/9: the digit is the last byte of the key).
            var set = Concat(OldHello(), Frame(Body(w => { w.Write((byte)1); w.Write("flood/0"); w.Write(60 * MiB); w.Write(new byte[60 * MiB]); })));
            int digit = OldHello().Length + 4 + 1 + 1 + "flood/".Length;
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < 10; i++)
            {
                set[digit] = (byte)('0' + i);
                Send(port, set);
            }
            Thread.Sleep(1000);
            long after = rank0.ResidentBytes();
            _log.WriteLine($"rank 0 resident memory {before / (double)MiB:F1} MiB before, {after / (double)MiB:F1} MiB after ten 60 MiB writes ({watch.Elapsed.TotalSeconds:F1} s)");

            Assert.False(rank0.HasExited, rank0.ToString());
            Assert.True(after - before < 64L * MiB, $"rank 0 grew by {(after - before) / MiB} MiB");
        }

        /// <summary>Connects, sends, and (optionally) reads whatever comes back until the other side closes or 3 s pass.</summary>
        private static byte[] Send(int port, byte[] payload, bool readBack = false)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(IPAddress.Loopback, port);
            socket.ReceiveTimeout = 3000;
            socket.SendTimeout = 10000;
            try
            {
                socket.Send(payload);
            }
            catch (SocketException)
            {
                // The rank closed the connection before taking everything: what it should do.
                return Array.Empty<byte>();
            }
            if (!readBack)
            {
                Thread.Sleep(50);
                return Array.Empty<byte>();
            }
            var answer = new MemoryStream();
            var buffer = new byte[4096];
            try
            {
                int n;
                while ((n = socket.Receive(buffer)) > 0) answer.Write(buffer, 0, n);
            }
            catch (SocketException)
            {
                // timed out (the old store keeps the connection open) or reset
            }
            return answer.ToArray();
        }

        private static bool WaitFor(Func<bool> condition, TimeSpan timeout)
        {
            var watch = Stopwatch.StartNew();
            while (!condition())
            {
                if (watch.Elapsed > timeout) return false;
                Thread.Sleep(50);
            }
            return true;
        }

        private static byte[] RandomBytes(int n)
        {
            var bytes = new byte[n];
            new Random(17).NextBytes(bytes);
            return bytes;
        }

        /// <summary>The store's first protocol (xtuner 0.x): a length-prefixed BinaryWriter string "xtuner-store/1".</summary>
        private static byte[] OldHello() => Frame(Body(w => w.Write("xtuner-store/1")));

        private static byte[] Body(Action<BinaryWriter> write)
        {
            var stream = new MemoryStream();
            using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true)) write(writer);
            return stream.ToArray();
        }

        private static byte[] Frame(byte[] body) => Concat(BitConverter.GetBytes(body.Length), body);

        private static byte[] Concat(params byte[][] parts)
        {
            var all = new byte[parts.Sum(p => p.Length)];
            int at = 0;
            foreach (var part in parts)
            {
                Buffer.BlockCopy(part, 0, all, at, part.Length);
                at += part.Length;
            }
            return all;
        }
    }
}
