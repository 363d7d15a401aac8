using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using XTuner.Core;
using XTuner.Core.Launch;
using XTuner.Training.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Distributed
{
    /// <summary>
    /// The rendezvous store and the peer connections against clients that know the run's secret or another one, over
    /// real loopback sockets in this process: who gets in, what every request may ask for, and what rank 0 logs.
    /// </summary>
    [Collection(DistributedCollection.Name)]
    public sealed class StoreSecurityTests
    {
        private const string Secret = "store-security-tests";
        private static readonly TimeSpan Patient = TimeSpan.FromSeconds(20);

        private static RankEnvironment Rank(int rank, int worldSize, int port, string? token = Secret, int? localWorldSize = null) =>
            new RankEnvironment(rank, worldSize, localWorldSize == null ? rank : 0, localWorldSize ?? worldSize, localWorldSize == null ? 0 : rank,
                "127.0.0.1", port, RankLauncher.Torchrun, runToken: token);

        private static (TcpStore Store, ConcurrentQueue<string> Log) Rank0(int worldSize, int port, string? token = Secret)
        {
            var log = new ConcurrentQueue<string>();
            return (TcpStore.Connect(Rank(0, worldSize, port, token), Patient, log.Enqueue), log);
        }

        [Fact]
        public void A_rank_with_another_secret_is_refused_and_rank_0_says_so()
        {
            int port = FreePort.Next();
            var (host, log) = Rank0(2, port);
            try
            {
                var e = Assert.Throws<XTunerException>(() => TcpStore.Connect(Rank(1, 2, port, "another run's secret"), Patient));
                Assert.Equal(ErrorIds.RendezvousRefused, e.ErrorId);
                Assert.Contains("does not know this run's token", e.Message);
                Assert.Contains("XTUNER_RUN_TOKEN", e.Message);
                Assert.True(SpinWait.SpinUntil(() => log.Any(l => l.Contains("closed a connection from 127.0.0.1")), Patient), string.Join("\n", log));

                using var good = TcpStore.Connect(Rank(1, 2, port), Patient);
                good.Set("after", "the stranger");
                Assert.Equal("the stranger", host.GetString("after"));
            }
            finally
            {
                host.Abort();
            }
        }

        [Fact]
        public void A_rank_without_the_secret_is_refused_as_well()
        {
            int port = FreePort.Next();
            var (host, _) = Rank0(2, port);
            try
            {
                var e = Assert.Throws<XTunerException>(() => TcpStore.Connect(Rank(1, 2, port, token: null), Patient, _ => { }));
                Assert.Equal(ErrorIds.RendezvousRefused, e.ErrorId);
            }
            finally
            {
                host.Abort();
            }
        }

        [Fact]
        public void A_run_across_nodes_without_a_secret_is_refused_before_it_listens()
        {
            int port = FreePort.Next();
            var e = Assert.Throws<XTunerException>(() => TcpStore.Connect(Rank(0, 2, port, token: null, localWorldSize: 1), Patient));
            Assert.Equal(ErrorIds.RunTokenMissing, e.ErrorId);
            Assert.Contains("export XTUNER_RUN_TOKEN=", e.Message);
            Assert.True(FreePort.IsFree(port), "rank 0 listened although it refused to run");
        }

        [Fact]
        public void A_run_on_one_node_without_a_secret_runs_on_loopback_and_rank_0_warns()
        {
            int port = FreePort.Next();
            var (host, log) = Rank0(2, port, token: null);
            try
            {
                using var other = TcpStore.Connect(Rank(1, 2, port, token: null), Patient, _ => { });
                other.Set("k", "v");
                Assert.Equal("v", host.GetString("k"));
                Assert.Contains(log, l => l.Contains("XTUNER_RUN_TOKEN is not set"));
            }
            finally
            {
                host.Abort();
            }
        }

        [Fact]
        public void On_one_node_the_store_and_the_peers_listen_on_loopback_only()
        {
            ThreadWorld.Run(2, runtime =>
            {
                runtime.World.Barrier();
                var listening = ListeningSockets.Of(Environment.ProcessId);
                var mine = listening.Where(l => l.Port == runtime.Environment.MasterPort).ToList();
                if (runtime.Environment.Rank == 0) Assert.Equal(new[] { IPAddress.Loopback }, mine.Select(l => l.Address).ToArray());
                Assert.DoesNotContain(listening, l => l.Address.Equals(IPAddress.Any));
                runtime.World.Barrier();
            });
        }

        [Fact]
        public void Values_keys_and_the_whole_store_are_bounded_with_clear_errors()
        {
            int port = FreePort.Next();
            var (host, _) = Rank0(1, port);
            try
            {
                var big = Assert.Throws<XTunerException>(() => host.Set("big", new byte[StoreProtocol.MaxValueBytes + 1]));
                Assert.Equal(ErrorIds.StoreLimitExceeded, big.ErrorId);
                Assert.Contains("refused to set 'big'", big.Message);
                var key = Assert.Throws<XTunerException>(() => host.Set(new string('k', 2000), "v"));
                Assert.Equal(ErrorIds.StoreLimitExceeded, key.ErrorId);

                var megabyte = new byte[StoreProtocol.MaxValueBytes];
                var full = Assert.Throws<XTunerException>(() =>
                {
                    for (int i = 0; i < 100; i++) host.Set("fill/" + i, megabyte);
                });
                Assert.Equal(ErrorIds.StoreLimitExceeded, full.ErrorId);
                Assert.Contains("beyond its 64 MiB", full.Message);

                Assert.Equal(63, host.Delete(Enumerable.Range(0, 100).Select(i => "fill/" + i).ToList()));
                host.Set("room", megabyte);
            }
            finally
            {
                host.Abort();
            }
        }

        [Fact]
        public async Task Broken_requests_of_a_rank_that_knows_the_secret_are_answered_and_the_store_serves_on()
        {
            int port = FreePort.Next();
            var (host, log) = Rank0(2, port);
            try
            {
                using var raw = Authenticated(port, 1, 2);
                Assert.Equal(StoreProtocol.Status.Invalid, Ask(raw, w => w.Write((byte)99)).Status);
                Assert.Equal(StoreProtocol.Status.Invalid, Ask(raw, w => { w.Write((byte)StoreProtocol.Op.Wait); w.Write(-1); w.Write(10L); }).Status);
                Assert.Equal(StoreProtocol.Status.TooLarge, Ask(raw, w => { w.Write((byte)StoreProtocol.Op.Wait); w.Write(int.MaxValue); }).Status);
                Assert.Equal(StoreProtocol.Status.Invalid, Ask(raw, w => { w.Write((byte)StoreProtocol.Op.Set); w.Write("k"); w.Write(-5); }).Status);
                Assert.Equal(StoreProtocol.Status.Invalid, Ask(raw, w => { w.Write((byte)StoreProtocol.Op.Set); w.Write("k"); w.Write(100); w.Write(new byte[3]); }).Status);
                host.Set("text", "not a number");
                var add = Ask(raw, w => { w.Write((byte)StoreProtocol.Op.Add); w.Write("text"); w.Write(1L); });
                Assert.Equal(StoreProtocol.Status.Invalid, add.Status);
                Assert.Contains("no counter", add.Message);
                host.Set("max", long.MaxValue.ToString());
                Assert.Equal(StoreProtocol.Status.Invalid, Ask(raw, w => { w.Write((byte)StoreProtocol.Op.Add); w.Write("max"); w.Write(1L); }).Status);

                // A wait of long.MaxValue ms is a long wait, not an overflow: it ends when the key comes.
                var waiting = Task.Run(() => Ask(raw, w => { w.Write((byte)StoreProtocol.Op.Get); w.Write("later"); w.Write(long.MaxValue); }));
                Thread.Sleep(100);
                host.Set("later", "here");
                Assert.Equal(StoreProtocol.Status.Ok, (await waiting).Status);

                // A length beyond the protocol breaks the framing: that connection is closed, the store serves on.
                raw.Send(BitConverter.GetBytes(int.MaxValue));
                Assert.Equal(0, raw.Receive(new byte[1]));
                Assert.True(SpinWait.SpinUntil(() => log.Any(l => l.Contains("beyond the store protocol")), Patient), string.Join("\n", log));
                using var other = TcpStore.Connect(Rank(1, 2, port), Patient);
                Assert.Equal("here", other.GetString("later"));
            }
            finally
            {
                host.Abort();
            }
        }

        [Fact]
        public async Task Beyond_32_unfinished_handshakes_a_connection_is_told_to_come_back_and_the_ranks_get_in_afterwards()
        {
            int port = FreePort.Next();
            var (host, log) = Rank0(2, port);
            var silent = new List<Socket>();
            try
            {
                for (int i = 0; i < HandshakeAcceptor.MaxPending; i++) silent.Add(Open(port));
                Thread.Sleep(200);
                using (var extra = Open(port))
                {
                    var answer = new byte[2];
                    extra.ReceiveTimeout = 5000;
                    Assert.Equal(1, extra.Receive(answer));
                    Assert.Equal(1, answer[0]); // busy
                }
                Assert.True(SpinWait.SpinUntil(() => log.Any(l => l.Contains("already in their handshake")), Patient), string.Join("\n", log));
                var joining = Task.Run(() => TcpStore.Connect(Rank(1, 2, port), Patient));
                Thread.Sleep(300);
                silent.ForEach(s => s.Dispose());
                using var rank1 = await joining;
                rank1.Set("in", "yes");
                Assert.Equal("yes", host.GetString("in"));
            }
            finally
            {
                silent.ForEach(s => s.Dispose());
                host.Abort();
            }
        }

        [Fact]
        public void A_rank_of_another_world_size_is_refused_with_the_reason()
        {
            int port = FreePort.Next();
            var (host, _) = Rank0(2, port);
            try
            {
                var e = Assert.Throws<XTunerException>(() => TcpStore.Connect(Rank(1, 4, port), Patient));
                Assert.Equal(ErrorIds.RendezvousRefused, e.ErrorId);
                Assert.Contains("a world of 4, but this store serves a world of 2", e.Message);
            }
            finally
            {
                host.Abort();
            }
        }

        [Fact]
        public void Barriers_remove_their_keys_as_the_group_passes_on()
        {
            int port = FreePort.Next();
            var stores = new[] { TcpStore.Connect(Rank(0, 2, port), Patient), TcpStore.Connect(Rank(1, 2, port), Patient) };
            try
            {
                var sequences = stores.Select(s => new BarrierSequence(s, "g/", new[] { 0, 1 })).ToArray();
                Parallel.For(0, 2, r =>
                {
                    for (int i = 0; i < 200; i++) sequences[r].Pass(Patient);
                });
                var gone = Assert.Throws<XTunerException>(() => stores[0].Get(TcpStore.ArrivalKey("g/0", 1), TimeSpan.Zero));
                Assert.Equal(ErrorIds.RendezvousTimeout, gone.ErrorId);
                Assert.Equal("1", stores[0].GetString(TcpStore.ArrivalKey("g/199", 1)));
            }
            finally
            {
                stores[1].Dispose();
                stores[0].Abort();
            }
        }

        [Fact]
        public async Task A_rank_does_not_talk_to_an_impostor_at_a_peers_address()
        {
            int port = FreePort.Next();
            var env0 = Rank(0, 2, port);
            var store0 = TcpStore.Connect(env0, Patient);
            var store1 = TcpStore.Connect(Rank(1, 2, port), Patient);
            // Impostors: a listener that speaks no xtuner protocol, and a rank of another run (another secret).
            var stranger = new TcpListener(IPAddress.Loopback, 0);
            stranger.Start();
            var received = new MemoryStream();
            var strangerTask = Task.Run(() =>
            {
                using var client = stranger.AcceptSocket();
                client.Send(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\n\r\n" + new string('x', 100)));
                client.ReceiveTimeout = 5000;
                var buffer = new byte[65536];
                try
                {
                    int n;
                    while ((n = client.Receive(buffer)) > 0) received.Write(buffer, 0, n);
                }
                catch (SocketException)
                {
                    // timed out: nothing more came
                }
            });
            var otherEnv = Rank(0, 1, FreePort.Next(), "another run's secret");
            using var otherStore = TcpStore.Connect(otherEnv, Patient);
            using var otherRun = new PeerMesh(otherStore, otherEnv, Patient, _ => { });
            try
            {
                using var mesh0 = new PeerMesh(store0, env0, Patient, _ => { });

                store1.Set("peer/1", "127.0.0.1:" + ((IPEndPoint)stranger.LocalEndpoint).Port);
                var e = Assert.Throws<XTunerException>(() => mesh0.Get(1));
                Assert.Equal(ErrorIds.RendezvousRefused, e.ErrorId);
                Assert.Contains("what listens there is not rank 1 of this run", e.Message);
                Assert.Same(strangerTask, await Task.WhenAny(strangerTask, Task.Delay(Patient)));
                Assert.Equal(48, received.Length); // the hello, and not a byte more

                store1.Set("peer/1", otherStore.GetString("peer/0"));
                var wrong = Assert.Throws<XTunerException>(() => mesh0.Get(1));
                Assert.Equal(ErrorIds.RendezvousRefused, wrong.ErrorId);
                Assert.Contains("it does not know this run's token", wrong.Message);
            }
            finally
            {
                stranger.Stop();
                store1.Dispose();
                store0.Abort();
            }
        }

        private static Socket Open(int port)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(IPAddress.Loopback, port);
            return socket;
        }

        private static Socket Authenticated(int port, int rank, int worldSize)
        {
            var socket = Open(port);
            socket.ReceiveTimeout = 20000;
            Assert.True(new Handshake(StoreProtocol.Magic, Secret).Dial(socket, rank, worldSize));
            return socket;
        }

        private static (StoreProtocol.Status Status, string Message) Ask(Socket socket, Action<BinaryWriter> request)
        {
            StoreProtocol.Send(socket, request);
            using var reply = StoreProtocol.Receive(socket);
            var status = (StoreProtocol.Status)reply.ReadByte();
            return (status, status == StoreProtocol.Status.Invalid || status == StoreProtocol.Status.TooLarge ? reply.ReadString() : "");
        }
    }
}
