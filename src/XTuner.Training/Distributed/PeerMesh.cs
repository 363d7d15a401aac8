using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using XTuner.Core;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// Direct TCP connections between the ranks of the CPU backend, one per pair of ranks, shared by every group (the
    /// ranks of a pair run their common collectives in the same order, so the bytes on a connection never interleave).
    /// Each rank listens on a port of its own and publishes its address in the store; a connection is opened when a
    /// collective first needs it, always by the lower rank, while the higher one's accept thread takes it. Waiting is
    /// only ever for a lower rank, so the lowest rank never waits and connecting cannot deadlock.
    /// </summary>
    internal sealed class PeerMesh : IDisposable
    {
        private const int Magic = 0x4D505458; // "XTPM"

        private readonly TcpStore _store;
        private readonly TimeSpan _timeout;
        private readonly Socket _listener;
        private readonly object _lock = new object();
        private readonly Dictionary<int, PeerConnection> _peers = new Dictionary<int, PeerConnection>();
        private bool _disposed;

        /// <summary>Listens and publishes this rank's address; <paramref name="spansNodes"/>: some ranks run on other hosts.</summary>
        public PeerMesh(TcpStore store, TimeSpan timeout, bool spansNodes)
        {
            _store = store;
            _timeout = timeout;
            _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _listener.Bind(new IPEndPoint(IPAddress.Any, 0));
            _listener.Listen(1024);
            var endpoint = new IPEndPoint(PublicAddress(store.LocalAddress, spansNodes), ((IPEndPoint)_listener.LocalEndPoint!).Port);
            new Thread(AcceptLoop) { IsBackground = true, Name = "xtuner-peer-accept" }.Start();
            store.Set(AddressKey(store.Rank), endpoint.ToString());
        }

        public int Rank => _store.Rank;

        /// <summary>The connection to <paramref name="peer"/>, opened on first use.</summary>
        /// <exception cref="XTunerException">The peer cannot be reached or does not connect in time.</exception>
        public PeerConnection Get(int peer)
        {
            if (peer == Rank || peer < 0 || peer >= _store.WorldSize) throw new ArgumentOutOfRangeException(nameof(peer), peer, "not another rank of the world");
            lock (_lock)
            {
                if (_disposed) throw new ObjectDisposedException(nameof(PeerMesh));
                if (_peers.TryGetValue(peer, out var known)) return known;
            }
            return Rank < peer ? Dial(peer) : AwaitDial(peer);
        }

        public void Dispose()
        {
            List<PeerConnection> peers;
            lock (_lock)
            {
                if (_disposed) return;
                _disposed = true;
                peers = _peers.Values.ToList();
                Monitor.PulseAll(_lock);
            }
            _listener.Dispose();
            foreach (var peer in peers) peer.Dispose();
        }

        /// <summary>
        /// The address this rank reaches rank 0 from is on a network that every rank shares with rank 0. On rank 0's own
        /// host that route is loopback (MASTER_ADDR names this host, and Debian maps its name to 127.0.1.1), which
        /// ranks on other hosts cannot use: publish this host's first other IPv4 address instead.
        /// </summary>
        private static IPAddress PublicAddress(IPAddress towardsRank0, bool spansNodes)
        {
            if (!spansNodes || !IPAddress.IsLoopback(towardsRank0)) return towardsRank0;
            return Dns.GetHostAddresses(Dns.GetHostName())
                .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a)) ?? towardsRank0;
        }

        private static string AddressKey(int rank) => "peer/" + rank.ToString(CultureInfo.InvariantCulture);

        private PeerConnection Dial(int peer)
        {
            var address = _store.GetString(AddressKey(peer));
            var endpoint = IPEndPoint.Parse(address);
            var watch = Stopwatch.StartNew();
            Span<byte> hello = stackalloc byte[8];
            BinaryPrimitives.WriteInt32LittleEndian(hello, Magic);
            BinaryPrimitives.WriteInt32LittleEndian(hello.Slice(4), Rank);
            while (true)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    using (var cancel = new CancellationTokenSource(Remaining(watch)))
                        socket.ConnectAsync(endpoint, cancel.Token).AsTask().GetAwaiter().GetResult();
                    socket.SendAll(hello);
                    return Register(peer, socket);
                }
                catch (Exception e) when (e is SocketException || e is OperationCanceledException)
                {
                    socket.Dispose();
                    if (watch.Elapsed >= _timeout)
                        throw new XTunerException(ErrorIds.RankFailed,
                            $"Rank {Rank} cannot connect to rank {peer} at {address} ({e.Message}): rank {peer} may have exited, " +
                            "or a firewall blocks the ports between nodes.", e);
                    Thread.Sleep(50);
                }
            }
        }

        private PeerConnection AwaitDial(int peer)
        {
            var watch = Stopwatch.StartNew();
            lock (_lock)
            {
                while (true)
                {
                    if (_peers.TryGetValue(peer, out var connection)) return connection;
                    if (_disposed) throw new ObjectDisposedException(nameof(PeerMesh));
                    if (watch.Elapsed >= _timeout)
                        throw new XTunerException(ErrorIds.RendezvousTimeout,
                            $"rank {peer} did not connect to rank {Rank} within {SocketExtensions.Seconds(_timeout)}: it may have crashed " +
                            "or be stuck before this collective.");
                    Monitor.Wait(_lock, Remaining(watch));
                }
            }
        }

        private TimeSpan Remaining(Stopwatch watch)
        {
            var left = _timeout - watch.Elapsed;
            return left < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : left > TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1) : left;
        }

        private PeerConnection Register(int peer, Socket socket)
        {
            lock (_lock)
            {
                if (_disposed || _peers.ContainsKey(peer))
                {
                    socket.Dispose();
                    if (_disposed) throw new ObjectDisposedException(nameof(PeerMesh));
                    throw new InvalidOperationException($"rank {peer} connected to rank {Rank} twice");
                }
                var connection = new PeerConnection(socket, peer, _timeout);
                _peers[peer] = connection;
                Monitor.PulseAll(_lock);
                return connection;
            }
        }

        private void AcceptLoop()
        {
            Span<byte> hello = stackalloc byte[8];
            while (true)
            {
                Socket socket;
                try
                {
                    socket = _listener.Accept();
                }
                catch (Exception e) when (e is SocketException || e is ObjectDisposedException)
                {
                    return;
                }
                try
                {
                    // A stranger on the port must not stall the loop for long.
                    socket.ReceiveTimeout = 10_000;
                    socket.ReceiveAll(hello);
                    int peer = BinaryPrimitives.ReadInt32LittleEndian(hello.Slice(4));
                    if (BinaryPrimitives.ReadInt32LittleEndian(hello) != Magic || peer < 0 || peer >= Rank)
                        throw new InvalidDataException("not a lower rank of this world");
                    Register(peer, socket);
                }
                catch (Exception e) when (e is SocketException || e is IOException || e is InvalidOperationException)
                {
                    socket.Dispose();
                }
            }
        }
    }
}
