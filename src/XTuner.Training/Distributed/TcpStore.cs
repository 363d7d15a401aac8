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
using XTuner.Core.Launch;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// The rendezvous store, as torch.distributed's TCPStore: rank 0 serves it in-process at MASTER_ADDR:MASTER_PORT,
    /// every rank (rank 0 too) talks to it over one connection. Waits that run out raise
    /// <see cref="ErrorIds.RendezvousTimeout"/> naming what is missing; a lost connection raises
    /// <see cref="ErrorIds.RankFailed"/>. Nothing here waits forever. Safe to use from several threads.
    /// </summary>
    public sealed class TcpStore : IDisposable
    {
        // Beyond a Wait's own timeout, how long the client gives the server to answer before calling it unresponsive.
        private static readonly TimeSpan AnswerGrace = TimeSpan.FromSeconds(30);

        private readonly object _lock = new object();
        private readonly Socket _socket;
        private readonly TcpStoreServer? _server;
        private readonly string _where;
        private bool _disposed;

        private TcpStore(Socket socket, TcpStoreServer? server, string where, int rank, int worldSize, TimeSpan timeout)
        {
            _socket = socket;
            _server = server;
            _where = where;
            Rank = rank;
            WorldSize = worldSize;
            Timeout = timeout;
        }

        public int Rank { get; }

        public int WorldSize { get; }

        /// <summary>How long <see cref="Get(string)"/> waits, and how long rank 0 keeps serving for the others at shutdown.</summary>
        public TimeSpan Timeout { get; }

        /// <summary>This host's address on the route to rank 0: the address the other ranks can reach this one at.</summary>
        internal IPAddress LocalAddress => ((IPEndPoint)_socket.LocalEndPoint!).Address;

        /// <summary>
        /// Rank 0 starts serving the store on MASTER_PORT; every rank then connects to MASTER_ADDR:MASTER_PORT,
        /// retrying until <paramref name="timeout"/> while rank 0 is still starting.
        /// </summary>
        /// <exception cref="XTunerException">Rank 0's port is taken, or the store cannot be reached in time.</exception>
        public static TcpStore Connect(RankEnvironment env, TimeSpan timeout)
        {
            if (env == null) throw new ArgumentNullException(nameof(env));
            var server = env.Rank == 0 ? new TcpStoreServer(env.MasterPort) : null;
            try
            {
                return Connect(env.MasterAddress, server?.Port ?? env.MasterPort, env.Rank, env.WorldSize, timeout, server);
            }
            catch
            {
                server?.Dispose();
                throw;
            }
        }

        internal static TcpStore Connect(string host, int port, int rank, int worldSize, TimeSpan timeout, TcpStoreServer? server)
        {
            var where = $"{host}:{port}";
            var watch = Stopwatch.StartNew();
            var delay = TimeSpan.FromMilliseconds(20);
            Exception? last = null;
            while (true)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    var left = timeout - watch.Elapsed;
                    if (left <= TimeSpan.Zero) left = TimeSpan.FromMilliseconds(1);
                    ConnectWithin(socket, host, port, left);
                    socket.ReceiveTimeout = SocketExtensions.TimeoutMilliseconds(left, AnswerGrace);
                    StoreProtocol.Send(socket, w => w.Write(StoreProtocol.Hello));
                    string answer;
                    using (var reply = StoreProtocol.Receive(socket)) answer = reply.ReadString();
                    if (answer != StoreProtocol.Hello) throw new InvalidDataException("unexpected greeting");
                    return new TcpStore(socket, server, where, rank, worldSize, timeout);
                }
                catch (Exception e) when (e is SocketException || e is IOException || e is TimeoutException || e is OperationCanceledException)
                {
                    socket.Dispose();
                    last = e;
                    if (e is InvalidDataException)
                        throw new XTunerException(ErrorIds.RendezvousFailed,
                            $"Rank {rank} reached {where}, but no xtuner rendezvous store answers there: check MASTER_ADDR and MASTER_PORT.", e);
                }
                if (watch.Elapsed >= timeout)
                    throw new XTunerException(ErrorIds.RendezvousTimeout,
                        $"rank 0 of {worldSize} did not open the rendezvous store at {where} within {SocketExtensions.Seconds(timeout)} " +
                        $"(rank {rank} last saw: {last?.Message}). Check that rank 0 started and that MASTER_ADDR and MASTER_PORT point at it.", last);
                Thread.Sleep(delay);
                delay = TimeSpan.FromMilliseconds(Math.Min(500, delay.TotalMilliseconds * 2));
            }
        }

        private static void ConnectWithin(Socket socket, string host, int port, TimeSpan timeout)
        {
            var addresses = Dns.GetHostAddresses(host).Where(a => a.AddressFamily == AddressFamily.InterNetwork).ToArray();
            if (addresses.Length == 0) throw new SocketException((int)SocketError.HostNotFound);
            using var cancel = new CancellationTokenSource(timeout);
            socket.ConnectAsync(addresses, port, cancel.Token).AsTask().GetAwaiter().GetResult();
        }

        public void Set(string key, byte[] value)
        {
            Request(TimeSpan.Zero, w =>
            {
                w.Write((byte)StoreProtocol.Op.Set);
                w.Write(key);
                w.Write(value.Length);
                w.Write(value);
            }, _ => true);
        }

        public void Set(string key, string value) => Set(key, Encoding.UTF8.GetBytes(value));

        /// <summary>The value of <paramref name="key"/>, waiting up to <see cref="Timeout"/> for some rank to set it.</summary>
        public byte[] Get(string key) => Get(key, Timeout);

        /// <exception cref="XTunerException">The key was not set in time (<see cref="ErrorIds.RendezvousTimeout"/>).</exception>
        public byte[] Get(string key, TimeSpan timeout)
        {
            var value = Request(timeout, w =>
            {
                w.Write((byte)StoreProtocol.Op.Get);
                w.Write(key);
                w.Write(Milliseconds(timeout));
            }, r => (StoreProtocol.Status)r.ReadByte() == StoreProtocol.Status.Ok ? r.ReadBytes(r.ReadInt32()) : null);
            return value ?? throw new XTunerException(ErrorIds.RendezvousTimeout,
                $"'{key}' was not set in the rendezvous store within {SocketExtensions.Seconds(timeout)} (rank {Rank} of {WorldSize} waited for it).");
        }

        public string GetString(string key) => Encoding.UTF8.GetString(Get(key));

        public string GetString(string key, TimeSpan timeout) => Encoding.UTF8.GetString(Get(key, timeout));

        /// <summary>Adds <paramref name="delta"/> to the counter <paramref name="key"/> (0 when unset) atomically; returns the new value.</summary>
        public long Add(string key, long delta) => Request(TimeSpan.Zero, w =>
        {
            w.Write((byte)StoreProtocol.Op.Add);
            w.Write(key);
            w.Write(delta);
        }, r =>
        {
            r.ReadByte();
            return r.ReadInt64();
        });

        /// <summary>Waits until every key is set.</summary>
        /// <exception cref="XTunerException">Some were not set in time; the message lists them (<see cref="ErrorIds.RendezvousTimeout"/>).</exception>
        public void Wait(IReadOnlyList<string> keys, TimeSpan timeout)
        {
            var missing = Missing(keys, timeout);
            if (missing.Count > 0)
                throw new XTunerException(ErrorIds.RendezvousTimeout,
                    $"{string.Join(", ", missing.Select(k => "'" + k + "'"))} {(missing.Count == 1 ? "was" : "were")} not set in the rendezvous store " +
                    $"within {SocketExtensions.Seconds(timeout)} (rank {Rank} of {WorldSize} waited).");
        }

        /// <summary>Every rank of the world waits here until all have arrived.</summary>
        public void Barrier(string name, TimeSpan timeout) => Barrier(name, Enumerable.Range(0, WorldSize).ToArray(), timeout);

        /// <summary>
        /// The ranks in <paramref name="ranks"/> (this one among them) wait here until all have arrived. Each name
        /// must be used once: a barrier is passed when every member's arrival key is set, and keys are never removed.
        /// </summary>
        /// <exception cref="XTunerException">Some did not arrive in time; on every rank that did, the message names the
        /// missing ranks (<see cref="ErrorIds.RendezvousTimeout"/>).</exception>
        public void Barrier(string name, IReadOnlyList<int> ranks, TimeSpan timeout)
        {
            if (!ranks.Contains(Rank)) throw new ArgumentException($"rank {Rank} is not one of the barrier's ranks", nameof(ranks));
            Func<int, string> key = r => $"barrier/{name}/{r.ToString(CultureInfo.InvariantCulture)}";
            Set(key(Rank), "1");
            var missing = Missing(ranks.Select(key).ToList(), timeout);
            if (missing.Count == 0) return;
            var absent = ranks.Where(r => missing.Contains(key(r))).ToList();
            throw new XTunerException(ErrorIds.RendezvousTimeout,
                $"{(absent.Count == 1 ? "rank" : "ranks")} {string.Join(", ", absent)} of {ranks.Count} did not arrive at '{name}' " +
                $"within {SocketExtensions.Seconds(timeout)} (seen from rank {Rank}; the missing ranks may have failed to start, " +
                "crashed or be stuck: see their logs).");
        }

        /// <summary>
        /// Closes this rank's connection. On rank 0 the store keeps serving until the other ranks have closed theirs
        /// (or crashed), at most <see cref="Timeout"/> longer, so that a rank finishing first never strands the others.
        /// </summary>
        public void Dispose() => Close(drain: true);

        /// <summary>
        /// Closes at once after a failure: rank 0 stops serving without waiting for the others, whose requests then fail
        /// immediately with a lost connection (instead of waiting out their timeouts for a rank that has given up).
        /// </summary>
        public void Abort() => Close(drain: false);

        private void Close(bool drain)
        {
            lock (_lock)
            {
                if (_disposed) return;
                _disposed = true;
                _socket.Dispose();
            }
            if (drain) _server?.Shutdown(Timeout);
            else _server?.Dispose();
        }

        private List<string> Missing(IReadOnlyList<string> keys, TimeSpan timeout) => Request(timeout, w =>
        {
            w.Write((byte)StoreProtocol.Op.Wait);
            StoreProtocol.WriteKeys(w, keys);
            w.Write(Milliseconds(timeout));
        }, r =>
        {
            r.ReadByte();
            return StoreProtocol.ReadKeys(r).ToList();
        });

        private T Request<T>(TimeSpan serverWait, Action<BinaryWriter> write, Func<BinaryReader, T> read)
        {
            lock (_lock)
            {
                if (_disposed) throw new ObjectDisposedException(nameof(TcpStore));
                try
                {
                    _socket.ReceiveTimeout = SocketExtensions.TimeoutMilliseconds(serverWait, AnswerGrace);
                    StoreProtocol.Send(_socket, write);
                    using var reply = StoreProtocol.Receive(_socket);
                    return read(reply);
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
                {
                    throw new XTunerException(ErrorIds.RendezvousTimeout,
                        $"The rendezvous store at {_where} (rank 0) did not answer rank {Rank} in time (is its host overloaded or unreachable?).", e);
                }
                catch (Exception e) when (e is IOException || e is SocketException)
                {
                    throw new XTunerException(ErrorIds.RankFailed,
                        $"Rank {Rank} lost its connection to the rendezvous store at {_where} ({e.Message}): rank 0, which serves it, " +
                        "probably exited; its log says why.", e);
                }
            }
        }

        private static long Milliseconds(TimeSpan timeout) => (long)Math.Min(long.MaxValue / 2, Math.Ceiling(timeout.TotalMilliseconds));
    }
}
