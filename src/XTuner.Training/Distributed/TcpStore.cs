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
    /// <see cref="ErrorIds.PeerLost"/>. Nothing here waits forever. Safe to use from several threads.
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
        /// Rank 0 starts serving the store on MASTER_PORT; every rank then connects to it (on one node through loopback,
        /// else at MASTER_ADDR), retrying until <paramref name="timeout"/> while rank 0 is still starting, and proves
        /// that it knows the run's secret. <paramref name="log"/> hears the connections rank 0 closed (default: stderr).
        /// </summary>
        /// <exception cref="XTunerException">Rank 0's port is taken, the store cannot be reached in time, it belongs to
        /// another run, or a run across nodes has no secret (<see cref="ErrorIds.RunTokenMissing"/>).</exception>
        public static TcpStore Connect(RankEnvironment env, TimeSpan timeout, Action<string>? log = null)
        {
            if (env == null) throw new ArgumentNullException(nameof(env));
            log ??= Console.Error.WriteLine;
            if (env.RunToken == null)
            {
                if (!env.IsSingleNode)
                    throw new XTunerException(ErrorIds.RunTokenMissing,
                        $"This run spans nodes ({env.WorldSize} ranks, {env.LocalWorldSize} on this one) but {RunToken.Variable} is not set: anyone who " +
                        $"can reach MASTER_PORT could join it. Set {RunToken.Variable} to the same secret on every node (xtuner's sbatch script does; " +
                        "for torchrun: export XTUNER_RUN_TOKEN=$(openssl rand -hex 32) before starting it on each node).");
                if (env.Rank == 0)
                    log($"xtuner: {RunToken.Variable} is not set: other processes of this machine could join this run's rendezvous " +
                        "(xtuner's launcher and sbatch script set it; with torchrun, export it before starting).");
            }
            var server = env.Rank == 0 ? new TcpStoreServer(ListenAddresses.ForStore(env, log), env.MasterPort, env.WorldSize, env.RunToken, log) : null;
            try
            {
                return Connect(ListenAddresses.StoreHost(env), server?.Port ?? env.MasterPort, env.Rank, env.WorldSize, env.RunToken, timeout, server);
            }
            catch
            {
                server?.Dispose();
                throw;
            }
        }

        internal static TcpStore Connect(string host, int port, int rank, int worldSize, string? token, TimeSpan timeout, TcpStoreServer? server)
        {
            var where = $"{host}:{port}";
            var handshake = new Handshake(StoreProtocol.Magic, token);
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
                    if (handshake.Dial(socket, rank, worldSize)) return new TcpStore(socket, server, where, rank, worldSize, timeout);
                    socket.Dispose();
                    last = new IOException("the store was busy with other connections");
                }
                catch (HandshakeException e)
                {
                    socket.Dispose();
                    throw e.Failure == HandshakeFailure.WrongToken || e.Failure == HandshakeFailure.Refused
                        ? new XTunerException(ErrorIds.RendezvousRefused,
                            $"Rank {rank} reached the rendezvous store at {where}, but {e.Message}: every rank of a run needs the same " +
                            $"{RunToken.Variable} (xtuner's launcher gives its ranks one), and MASTER_PORT must be this run's.", e)
                        : new XTunerException(ErrorIds.RendezvousFailed,
                            $"Rank {rank} reached {where}, but no xtuner rendezvous store answers there ({e.Message}): check MASTER_ADDR and MASTER_PORT.", e);
                }
                catch (Exception e) when (e is SocketException || e is IOException || e is TimeoutException || e is OperationCanceledException)
                {
                    socket.Dispose();
                    last = e;
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

        /// <exception cref="XTunerException">The key or value is beyond the store's limits, or the store is full (<see cref="ErrorIds.StoreLimitExceeded"/>).</exception>
        public void Set(string key, byte[] value)
        {
            Check(() =>
            {
                StoreProtocol.CheckKey(key);
                StoreProtocol.CheckValue(value.Length);
            }, "set", key);
            Request("set", key, TimeSpan.Zero, w =>
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
            Check(() => StoreProtocol.CheckKey(key), "get", key);
            var value = Request("get", key, timeout, w =>
            {
                w.Write((byte)StoreProtocol.Op.Get);
                w.Write(key);
                w.Write(StoreProtocol.WaitMilliseconds(timeout));
            }, r => r.ReadBytes(r.ReadInt32()));
            return value ?? throw new XTunerException(ErrorIds.RendezvousTimeout,
                $"'{key}' was not set in the rendezvous store within {SocketExtensions.Seconds(timeout)} (rank {Rank} of {WorldSize} waited for it).");
        }

        public string GetString(string key) => Encoding.UTF8.GetString(Get(key));

        public string GetString(string key, TimeSpan timeout) => Encoding.UTF8.GetString(Get(key, timeout));

        /// <summary>Adds <paramref name="delta"/> to the counter <paramref name="key"/> (0 when unset) atomically; returns the new value.</summary>
        public long Add(string key, long delta)
        {
            Check(() => StoreProtocol.CheckKey(key), "add to", key);
            return Request("add to", key, TimeSpan.Zero, w =>
            {
                w.Write((byte)StoreProtocol.Op.Add);
                w.Write(key);
                w.Write(delta);
            }, r => r.ReadInt64());
        }

        /// <summary>Removes the keys that are set; returns how many were.</summary>
        public int Delete(IReadOnlyList<string> keys) => Request("delete", keys.FirstOrDefault() ?? "", TimeSpan.Zero, w =>
        {
            w.Write((byte)StoreProtocol.Op.Delete);
            StoreProtocol.WriteKeys(w, keys);
        }, r => r.ReadInt32());

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
        /// must be used once: a barrier is passed when every member's arrival key is set. The keys stay; a sequence of
        /// barriers removes them as it goes (<see cref="BarrierSequence"/>).
        /// </summary>
        /// <exception cref="XTunerException">Some did not arrive in time; on every rank that did, the message names the
        /// missing ranks (<see cref="ErrorIds.RendezvousTimeout"/>).</exception>
        public void Barrier(string name, IReadOnlyList<int> ranks, TimeSpan timeout)
        {
            if (!ranks.Contains(Rank)) throw new ArgumentException($"rank {Rank} is not one of the barrier's ranks", nameof(ranks));
            Func<int, string> key = r => ArrivalKey(name, r);
            Set(key(Rank), "1");
            var missing = Missing(ranks.Select(key).ToList(), timeout);
            if (missing.Count == 0) return;
            var absent = ranks.Where(r => missing.Contains(key(r))).ToList();
            throw new XTunerException(ErrorIds.RendezvousTimeout,
                $"{(absent.Count == 1 ? "rank" : "ranks")} {string.Join(", ", absent)} of {ranks.Count} did not arrive at '{name}' " +
                $"within {SocketExtensions.Seconds(timeout)} (seen from rank {Rank}; the missing ranks may have failed to start, " +
                "crashed or be stuck: see their logs).");
        }

        /// <summary>The key by which <paramref name="rank"/> says it arrived at barrier <paramref name="name"/>.</summary>
        public static string ArrivalKey(string name, int rank) => $"barrier/{name}/{rank.ToString(CultureInfo.InvariantCulture)}";

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

        private List<string> Missing(IReadOnlyList<string> keys, TimeSpan timeout)
        {
            var missing = Request("wait for", keys.FirstOrDefault() ?? "", timeout, w =>
            {
                w.Write((byte)StoreProtocol.Op.Wait);
                StoreProtocol.WriteKeys(w, keys);
                w.Write(StoreProtocol.WaitMilliseconds(timeout));
            }, r => StoreProtocol.ReadKeys(r).ToList(), timedOut: r => StoreProtocol.ReadKeys(r).ToList());
            return missing ?? new List<string>();
        }

        /// <summary>A request the server would refuse, refused here with the same words (and without sending it).</summary>
        private void Check(Action check, string what, string key)
        {
            try
            {
                check();
            }
            catch (StoreRequestException e)
            {
                throw Refusal(e.Status, e.Message, what, key);
            }
        }

        private XTunerException Refusal(StoreProtocol.Status status, string why, string what, string key) =>
            new XTunerException(status == StoreProtocol.Status.TooLarge ? ErrorIds.StoreLimitExceeded : ErrorIds.RendezvousFailed,
                $"The rendezvous store refused to {what} '{Shorten(key)}' for rank {Rank}: {why}.");

        private static string Shorten(string key) => key.Length <= 80 ? key : key.Substring(0, 80) + "...";

        /// <summary>
        /// Sends a request and reads the answer: <paramref name="read"/> after Ok, <paramref name="timedOut"/> after
        /// TimedOut (default: the result is default), an <see cref="XTunerException"/> when the store refused it.
        /// </summary>
        private T? Request<T>(string what, string key, TimeSpan serverWait, Action<BinaryWriter> write, Func<BinaryReader, T> read,
            Func<BinaryReader, T>? timedOut = null)
        {
            lock (_lock)
            {
                if (_disposed) throw new ObjectDisposedException(nameof(TcpStore));
                try
                {
                    _socket.ReceiveTimeout = SocketExtensions.TimeoutMilliseconds(serverWait, AnswerGrace);
                    StoreProtocol.Send(_socket, write);
                    using var reply = StoreProtocol.Receive(_socket);
                    var status = (StoreProtocol.Status)reply.ReadByte();
                    switch (status)
                    {
                        case StoreProtocol.Status.Ok:
                            return read(reply);
                        case StoreProtocol.Status.TimedOut:
                            return timedOut != null ? timedOut(reply) : default;
                        default:
                            throw Refusal(status, reply.ReadString(), what, key);
                    }
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
                {
                    throw new XTunerException(ErrorIds.RendezvousTimeout,
                        $"The rendezvous store at {_where} (rank 0) did not answer rank {Rank} in time (is its host overloaded or unreachable?).", e);
                }
                catch (Exception e) when (!(e is XTunerException))
                {
                    // A closed connection, or an answer this client cannot read: no store it can go on with.
                    throw new XTunerException(ErrorIds.PeerLost,
                        $"Rank {Rank} lost its connection to the rendezvous store at {_where} ({e.Message}): rank 0, which serves it, " +
                        "probably exited; its log says why.", e);
                }
            }
        }
    }
}
