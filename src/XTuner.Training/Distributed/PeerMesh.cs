using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using XTuner.Core;
using XTuner.Core.Launch;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// Direct TCP connections between the ranks of the CPU backend, one per pair of ranks, shared by every group (the
    /// ranks of a pair run their common collectives in the same order, so the bytes on a connection never interleave).
    /// Each rank listens on a port of its own and publishes its address in the store; a connection is opened when a
    /// collective first needs it, always by the lower rank, while the higher one's accept thread takes it. Waiting is
    /// only ever for a lower rank, so the lowest rank never waits and connecting cannot deadlock. Both ends prove the
    /// run's secret and who they are (<see cref="Handshake"/>) before a byte of a tensor moves; a connection that
    /// fails to is closed and logged, and the rank goes on.
    /// </summary>
    internal sealed class PeerMesh : IDisposable
    {
        private const string Magic = "XTPEER02";
        private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

        private readonly TcpStore _store;
        private readonly TimeSpan _timeout;
        private readonly Handshake _handshake;
        private readonly ConnectionLog _log;
        private readonly HandshakeAcceptor _acceptor;
        private readonly object _lock = new object();
        private readonly Dictionary<int, PeerConnection> _peers = new Dictionary<int, PeerConnection>();
        private bool _disposed;

        /// <summary>
        /// Listens (see <see cref="ListenAddresses.ForPeers"/>) and publishes this rank's address; connections it
        /// closes are reported to <paramref name="log"/> (the rank's log).
        /// </summary>
        public PeerMesh(TcpStore store, RankEnvironment env, TimeSpan timeout, Action<string> log)
        {
            _store = store;
            _timeout = timeout;
            _handshake = new Handshake(Magic, env.RunToken);
            var (bind, publish) = ListenAddresses.ForPeers(env, store.LocalAddress);
            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(bind, 0));
            listener.Listen(1024);
            var endpoint = new IPEndPoint(publish, ((IPEndPoint)listener.LocalEndPoint!).Port);
            _log = new ConnectionLog(log, $"rank {store.Rank}'s peer port {endpoint}");
            _acceptor = new HandshakeAcceptor(listener, _log, "xtuner-peer", Accept);
            _acceptor.Start();
            store.Set(AddressKey(store.Rank), endpoint.ToString());
        }

        public int Rank => _store.Rank;

        /// <summary>The connection to <paramref name="peer"/>, opened on first use.</summary>
        /// <exception cref="XTunerException">The peer cannot be reached or does not connect in time, or what answers at
        /// its address does not know the run's secret.</exception>
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
            _acceptor.Dispose();
            foreach (var peer in peers) peer.Dispose();
        }

        private static string AddressKey(int rank) => "peer/" + rank.ToString(CultureInfo.InvariantCulture);

        private PeerConnection Dial(int peer)
        {
            var address = _store.GetString(AddressKey(peer));
            if (!IPEndPoint.TryParse(address, out var endpoint))
                throw new XTunerException(ErrorIds.RendezvousFailed, $"Rank {peer}'s address in the rendezvous store, '{address}', is no address.");
            var watch = Stopwatch.StartNew();
            while (true)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    using (var cancel = new CancellationTokenSource(Remaining(watch)))
                        socket.ConnectAsync(endpoint, cancel.Token).AsTask().GetAwaiter().GetResult();
                    socket.ReceiveTimeout = socket.SendTimeout = (int)Math.Min(_timeout.TotalMilliseconds, HandshakeTimeout.TotalMilliseconds);
                    if (_handshake.Dial(socket, Rank, peer)) return Register(peer, socket);
                    socket.Dispose();
                }
                catch (HandshakeException e)
                {
                    socket.Dispose();
                    throw new XTunerException(e.Failure == HandshakeFailure.Closed ? ErrorIds.PeerLost : ErrorIds.RendezvousRefused,
                        $"Rank {Rank} reached rank {peer}'s address {address}, but {e.Message}: " + (e.Failure == HandshakeFailure.Closed
                            ? $"rank {peer} may have exited."
                            : $"what listens there is not rank {peer} of this run (every rank needs the same {RunToken.Variable})."), e);
                }
                catch (Exception e) when (e is SocketException || e is OperationCanceledException || e is IOException)
                {
                    socket.Dispose();
                    if (watch.Elapsed >= _timeout)
                        throw new XTunerException(ErrorIds.PeerLost,
                            $"Rank {Rank} cannot connect to rank {peer} at {address} ({e.Message}): rank {peer} may have exited, " +
                            "or a firewall blocks the ports between nodes.", e);
                }
                Thread.Sleep(50);
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

        /// <summary>Who may connect once the secret is proven: a lower rank calling this one, the first time.</summary>
        private string? Admit(int dialer, int callee)
        {
            if (callee != Rank) return $"it called rank {callee}, not rank {Rank}";
            if (dialer < 0 || dialer >= Rank) return $"rank {dialer} is no lower rank of this world (only those dial rank {Rank})";
            lock (_lock)
                if (_peers.ContainsKey(dialer)) return $"rank {dialer} is connected already";
            return null;
        }

        private void Accept(Socket socket)
        {
            var from = HandshakeAcceptor.RemoteAddress(socket);
            try
            {
                socket.ReceiveTimeout = socket.SendTimeout = (int)HandshakeTimeout.TotalMilliseconds;
                var (dialer, _) = _handshake.Accept(socket, Admit);
                _acceptor.Release(socket);
                Register(dialer, socket);
            }
            catch (Exception e)
            {
                _acceptor.Release(socket);
                bool disposed;
                lock (_lock) disposed = _disposed;
                socket.Dispose();
                if (!disposed) _log.Closed(from, Reason(e));
            }
        }

        private static string Reason(Exception e) => e switch
        {
            HandshakeException h => h.Message,
            SocketException s when s.SocketErrorCode == SocketError.TimedOut || s.SocketErrorCode == SocketError.WouldBlock =>
                $"it did not complete the handshake within {HandshakeTimeout.TotalSeconds:0} s",
            _ => $"{e.GetType().Name}: {e.Message}",
        };
    }
}
