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
        private const int MaxPending = 32;
        private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

        private readonly TcpStore _store;
        private readonly TimeSpan _timeout;
        private readonly Handshake _handshake;
        private readonly Socket _listener;
        private readonly ConnectionLog _log;
        private readonly object _lock = new object();
        private readonly Dictionary<int, PeerConnection> _peers = new Dictionary<int, PeerConnection>();
        private readonly HashSet<Socket> _pending = new HashSet<Socket>();
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
            _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _listener.Bind(new IPEndPoint(bind, 0));
            _listener.Listen(1024);
            var endpoint = new IPEndPoint(publish, ((IPEndPoint)_listener.LocalEndPoint!).Port);
            _log = new ConnectionLog(log, $"rank {store.Rank}'s peer port {endpoint}");
            new Thread(AcceptLoop) { IsBackground = true, Name = "xtuner-peer-accept" }.Start();
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
            List<Socket> pending;
            lock (_lock)
            {
                if (_disposed) return;
                _disposed = true;
                peers = _peers.Values.ToList();
                pending = _pending.ToList();
                Monitor.PulseAll(_lock);
            }
            _listener.Dispose();
            foreach (var peer in peers) peer.Dispose();
            foreach (var socket in pending) socket.Dispose();
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

        private void AcceptLoop()
        {
            while (true)
            {
                Socket socket;
                try
                {
                    socket = _listener.Accept();
                }
                catch (Exception e)
                {
                    lock (_lock) if (_disposed) return;
                    _log.Closed(null, "accept failed: " + e.Message);
                    Thread.Sleep(100);
                    continue;
                }
                bool busy;
                lock (_lock)
                {
                    if (_disposed)
                    {
                        socket.Dispose();
                        return;
                    }
                    busy = _pending.Count >= MaxPending;
                    if (!busy) _pending.Add(socket);
                }
                if (busy)
                {
                    Refuse(socket, $"{MaxPending} connections are already in their handshake");
                    continue;
                }
                try
                {
                    // A stranger that stalls its handshake stalls only this thread, not the ranks' connections.
                    new Thread(() => Accept(socket)) { IsBackground = true, Name = "xtuner-peer-handshake" }.Start();
                }
                catch (Exception e)
                {
                    lock (_lock) _pending.Remove(socket);
                    Refuse(socket, "no thread to take it: " + e.Message);
                }
            }
        }

        private void Accept(Socket socket)
        {
            string? from = null;
            try
            {
                from = socket.RemoteEndPoint?.ToString();
                socket.ReceiveTimeout = socket.SendTimeout = (int)HandshakeTimeout.TotalMilliseconds;
                var (dialer, _) = _handshake.Accept(socket, Admit);
                lock (_lock) _pending.Remove(socket);
                Register(dialer, socket);
            }
            catch (Exception e)
            {
                bool disposed;
                lock (_lock)
                {
                    _pending.Remove(socket);
                    disposed = _disposed;
                }
                socket.Dispose();
                if (!disposed) _log.Closed(from, Reason(e));
            }
        }

        private void Refuse(Socket socket, string why)
        {
            string? from = null;
            try
            {
                from = socket.RemoteEndPoint?.ToString();
                Handshake.SendBusy(socket);
            }
            catch (Exception)
            {
                // It is being closed anyway.
            }
            socket.Dispose();
            _log.Closed(from, why);
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
