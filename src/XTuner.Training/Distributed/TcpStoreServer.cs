using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using XTuner.Core;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// The key-value store that rank 0 serves to every rank for the rendezvous. One thread per connection: a world has
    /// at most a few thousand ranks, each with one connection, and a blocked Wait then simply blocks its own thread.
    /// A connection is served only after its <see cref="Handshake"/> proved the run's secret; until then at most
    /// <see cref="HandshakeAcceptor.MaxPending"/> connections are read, each for at most <see cref="HandshakeTimeout"/>. Anything a
    /// connection does wrong closes that connection and is logged; nothing a client sends ends the server.
    /// </summary>
    internal sealed class TcpStoreServer : IDisposable
    {
        public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

        // A client that stops reading its answers must not hold a thread forever.
        private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(60);

        private readonly HandshakeAcceptor _acceptor;
        private readonly Handshake _handshake;
        private readonly int _worldSize;
        private readonly int _maxClients;
        private readonly ConnectionLog _log;
        private readonly object _lock = new object();
        private readonly Dictionary<string, byte[]> _data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        private readonly HashSet<Socket> _clients = new HashSet<Socket>();
        private long _bytes;
        private bool _stopping;

        /// <param name="address">Where to listen: loopback for a one-node run (see <see cref="ListenAddresses"/>).</param>
        /// <param name="port">MASTER_PORT (0: any free port).</param>
        /// <param name="worldSize">The ranks that may connect (each once; a few more connections are allowed for ranks that reconnect).</param>
        /// <param name="token">The run's secret; null or empty when the run has none.</param>
        /// <param name="log">Where closed connections are reported (the rank's log).</param>
        /// <exception cref="XTunerException">The port is taken (<see cref="ErrorIds.RendezvousFailed"/>).</exception>
        public TcpStoreServer(IPAddress address, int port, int worldSize, string? token, Action<string> log)
        {
            _worldSize = worldSize;
            _maxClients = 2 * worldSize + 8;
            _handshake = new Handshake(StoreProtocol.Magic, token);
            var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                listener.Bind(new IPEndPoint(address, port));
                listener.Listen(1024);
            }
            catch (SocketException e)
            {
                listener.Dispose();
                throw new XTunerException(ErrorIds.RendezvousFailed,
                    $"Rank 0 cannot serve the rendezvous store on {address}:{port} ({e.Message}): another job may use the port; choose another MASTER_PORT.", e);
            }
            Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            _log = new ConnectionLog(log, $"rendezvous store {address}:{Port}");
            _acceptor = new HandshakeAcceptor(listener, _log, "xtuner-store", Serve);
            _acceptor.Start();
        }

        public int Port { get; }

        /// <summary>Connections closed for a bad handshake or request so far.</summary>
        public int ClosedConnections => _log.Count;

        /// <summary>
        /// Keeps serving until every client has closed its connection (the other ranks are done with the store: a
        /// rank that crashed has had its connection closed by the OS), or until <paramref name="drainTimeout"/>; then stops.
        /// </summary>
        public void Shutdown(TimeSpan drainTimeout)
        {
            var watch = Stopwatch.StartNew();
            lock (_lock)
            {
                while (_clients.Count > 0 && watch.Elapsed < drainTimeout)
                    Monitor.Wait(_lock, Remaining(drainTimeout, watch));
            }
            Dispose();
        }

        public void Dispose()
        {
            List<Socket> sockets;
            lock (_lock)
            {
                if (_stopping) return;
                _stopping = true;
                sockets = _clients.ToList();
                Monitor.PulseAll(_lock);
            }
            _acceptor.Dispose();
            foreach (var socket in sockets) socket.Dispose();
        }

        private void Serve(Socket client)
        {
            var from = HandshakeAcceptor.RemoteAddress(client);
            bool authenticated = false;
            try
            {
                client.NoDelay = true;
                client.ReceiveTimeout = client.SendTimeout = (int)HandshakeTimeout.TotalMilliseconds;
                // Admitted clients are counted before the handshake's last byte tells them so: a rank whose connect has
                // returned is always one that Shutdown waits for.
                var (rank, worldSize) = _handshake.Accept(client, (r, w) => Admit(client, r, w));
                authenticated = true;
                from = $"rank {rank} ({from})";
                // Ranks wait between requests as long as they like; answers still must be taken.
                client.ReceiveTimeout = 0;
                client.SendTimeout = (int)SendTimeout.TotalMilliseconds;
                while (true)
                {
                    BinaryReader request;
                    try
                    {
                        request = StoreProtocol.Receive(client);
                    }
                    catch (EndOfStreamException)
                    {
                        return; // The rank closed its connection (or exited): it is finished with the store.
                    }
                    using (request) Answer(client, request);
                }
            }
            catch (Exception e)
            {
                bool stopping;
                lock (_lock) stopping = _stopping;
                if (!stopping && !(authenticated && IsConnectionLoss(e))) _log.Closed(from, Reason(e, authenticated));
            }
            finally
            {
                _acceptor.Release(client);
                lock (_lock)
                {
                    _clients.Remove(client);
                    Monitor.PulseAll(_lock);
                }
                client.Dispose();
            }
        }

        /// <summary>
        /// Who may be served once the secret is proven: a rank of this world, while there is room and the store is not
        /// closing; an admitted <paramref name="client"/> is a served one from here on.
        /// </summary>
        private string? Admit(Socket client, int rank, int worldSize)
        {
            if (worldSize != _worldSize) return $"it is a rank of a world of {worldSize}, but this store serves a world of {_worldSize}";
            if (rank < 0 || rank >= _worldSize) return $"rank {rank} is not a rank of this world of {_worldSize}";
            lock (_lock)
            {
                if (_stopping) return "the store is closing";
                if (_clients.Count >= _maxClients) return $"the store already serves {_clients.Count} connections, the most a world of {_worldSize} needs";
                _acceptor.Release(client);
                _clients.Add(client);
            }
            return null;
        }

        private static bool IsConnectionLoss(Exception e) =>
            e is EndOfStreamException || e is ObjectDisposedException ||
            (e is SocketException s && (s.SocketErrorCode == SocketError.ConnectionReset || s.SocketErrorCode == SocketError.Shutdown));

        private static string Reason(Exception e, bool authenticated) => e switch
        {
            HandshakeException h => h.Message,
            SocketException s when s.SocketErrorCode == SocketError.TimedOut || s.SocketErrorCode == SocketError.WouldBlock => authenticated
                ? $"it took no answer within {SendTimeout.TotalSeconds:0} s"
                : $"it did not complete the handshake within {HandshakeTimeout.TotalSeconds:0} s",
            InvalidDataException d => d.Message,
            _ => $"{e.GetType().Name}: {e.Message}",
        };

        /// <summary>Carries out one request and answers it; a request it refuses is answered with why, and the connection serves on.</summary>
        private void Answer(Socket client, BinaryReader request)
        {
            Action<BinaryWriter> answer;
            try
            {
                answer = Handle(request);
            }
            catch (StoreRequestException e)
            {
                answer = w =>
                {
                    w.Write((byte)e.Status);
                    w.Write(e.Message);
                };
            }
            catch (EndOfStreamException)
            {
                // The message ended before its arguments did: nothing to carry out, but the framing still holds.
                answer = w =>
                {
                    w.Write((byte)StoreProtocol.Status.Invalid);
                    w.Write("the request ended before its arguments");
                };
            }
            StoreProtocol.Send(client, answer);
        }

        private Action<BinaryWriter> Handle(BinaryReader request)
        {
            var op = (StoreProtocol.Op)request.ReadByte();
            switch (op)
            {
                case StoreProtocol.Op.Set:
                {
                    var key = StoreProtocol.ReadKey(request);
                    int length = request.ReadInt32();
                    StoreProtocol.CheckValue(length);
                    var value = request.ReadBytes(length);
                    if (value.Length != length) throw new EndOfStreamException();
                    lock (_lock)
                    {
                        Put(key, value);
                        Monitor.PulseAll(_lock);
                    }
                    return w => w.Write((byte)StoreProtocol.Status.Ok);
                }
                case StoreProtocol.Op.Get:
                {
                    var key = StoreProtocol.ReadKey(request);
                    var missing = WaitFor(new[] { key }, StoreProtocol.ReadWait(request));
                    byte[]? value = null;
                    if (missing.Count == 0)
                        lock (_lock) _data.TryGetValue(key, out value);
                    return w =>
                    {
                        w.Write((byte)(value == null ? StoreProtocol.Status.TimedOut : StoreProtocol.Status.Ok));
                        if (value == null) return;
                        w.Write(value.Length);
                        w.Write(value);
                    };
                }
                case StoreProtocol.Op.Add:
                {
                    var key = StoreProtocol.ReadKey(request);
                    long delta = request.ReadInt64();
                    long result;
                    lock (_lock)
                    {
                        long old = 0;
                        // Counters are stored as decimal text, so Get returns something a person can read.
                        if (_data.TryGetValue(key, out var text) &&
                            !long.TryParse(Encoding.UTF8.GetString(text), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out old))
                            throw new StoreRequestException(StoreProtocol.Status.Invalid, $"'{key}' holds a value that is no counter");
                        try
                        {
                            result = checked(old + delta);
                        }
                        catch (OverflowException)
                        {
                            throw new StoreRequestException(StoreProtocol.Status.Invalid, $"adding {delta} to '{key}' ({old}) overflows");
                        }
                        Put(key, Encoding.UTF8.GetBytes(result.ToString(CultureInfo.InvariantCulture)));
                        Monitor.PulseAll(_lock);
                    }
                    return w =>
                    {
                        w.Write((byte)StoreProtocol.Status.Ok);
                        w.Write(result);
                    };
                }
                case StoreProtocol.Op.Wait:
                {
                    var keys = StoreProtocol.ReadKeys(request);
                    var missing = WaitFor(keys, StoreProtocol.ReadWait(request));
                    return w =>
                    {
                        w.Write((byte)(missing.Count == 0 ? StoreProtocol.Status.Ok : StoreProtocol.Status.TimedOut));
                        StoreProtocol.WriteKeys(w, missing);
                    };
                }
                case StoreProtocol.Op.Delete:
                {
                    var keys = StoreProtocol.ReadKeys(request);
                    int removed = 0;
                    lock (_lock)
                    {
                        foreach (var key in keys)
                        {
                            if (!_data.TryGetValue(key, out var old)) continue;
                            _bytes -= Size(key, old);
                            _data.Remove(key);
                            removed++;
                        }
                    }
                    return w =>
                    {
                        w.Write((byte)StoreProtocol.Status.Ok);
                        w.Write(removed);
                    };
                }
                default:
                    throw new StoreRequestException(StoreProtocol.Status.Invalid, $"there is no store operation {(byte)op}");
            }
        }

        /// <summary>Stores a value within <see cref="StoreProtocol.MaxStoreBytes"/>; call under the lock.</summary>
        private void Put(string key, byte[] value)
        {
            long total = _bytes + Size(key, value) - (_data.TryGetValue(key, out var old) ? Size(key, old) : 0);
            if (total > StoreProtocol.MaxStoreBytes)
                throw new StoreRequestException(StoreProtocol.Status.TooLarge,
                    $"the store would hold {total >> 20} MiB, beyond its {StoreProtocol.MaxStoreBytes >> 20} MiB");
            _data[key] = value;
            _bytes = total;
        }

        private static long Size(string key, byte[] value) => Encoding.UTF8.GetByteCount(key) + value.Length;

        /// <summary>Blocks until every key is set or the timeout passes; returns the keys still missing.</summary>
        /// <exception cref="ObjectDisposedException">The server stops: the waiting rank is not answered (its connection
        /// closes, which it reports as rank 0 gone) rather than told its keys never came.</exception>
        private List<string> WaitFor(IReadOnlyList<string> keys, TimeSpan timeout)
        {
            var watch = Stopwatch.StartNew();
            lock (_lock)
            {
                while (true)
                {
                    if (_stopping) throw new ObjectDisposedException(nameof(TcpStoreServer));
                    var missing = keys.Where(k => !_data.ContainsKey(k)).ToList();
                    if (missing.Count == 0 || watch.Elapsed >= timeout) return missing;
                    Monitor.Wait(_lock, Remaining(timeout, watch));
                }
            }
        }

        private static TimeSpan Remaining(TimeSpan timeout, Stopwatch watch)
        {
            var left = timeout - watch.Elapsed;
            return left < TimeSpan.Zero ? TimeSpan.Zero : left > TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1) : left;
        }
    }
}
