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
    /// at most a few hundred ranks, each with one connection, and a blocked Wait then simply blocks its own thread.
    /// </summary>
    internal sealed class TcpStoreServer : IDisposable
    {
        private readonly Socket _listener;
        private readonly Thread _acceptThread;
        private readonly object _lock = new object();
        private readonly Dictionary<string, byte[]> _data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        private readonly HashSet<Socket> _clients = new HashSet<Socket>();
        private bool _stopping;

        /// <exception cref="XTunerException">The port is taken (<see cref="ErrorIds.RendezvousFailed"/>).</exception>
        public TcpStoreServer(int port)
        {
            _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                _listener.Bind(new IPEndPoint(IPAddress.Any, port));
                _listener.Listen(1024);
            }
            catch (SocketException e)
            {
                _listener.Dispose();
                throw new XTunerException(ErrorIds.RendezvousFailed,
                    $"Rank 0 cannot serve the rendezvous store on port {port} ({e.Message}): another job may use it; choose another MASTER_PORT.", e);
            }
            Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
            _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "xtuner-store-accept" };
            _acceptThread.Start();
        }

        public int Port { get; }

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
            List<Socket> clients;
            lock (_lock)
            {
                if (_stopping) return;
                _stopping = true;
                clients = _clients.ToList();
                Monitor.PulseAll(_lock);
            }
            _listener.Dispose();
            foreach (var client in clients) client.Dispose();
        }

        private void AcceptLoop()
        {
            while (true)
            {
                Socket client;
                try
                {
                    client = _listener.Accept();
                }
                catch (Exception e) when (e is SocketException || e is ObjectDisposedException)
                {
                    return;
                }
                lock (_lock)
                {
                    if (_stopping)
                    {
                        client.Dispose();
                        return;
                    }
                    _clients.Add(client);
                }
                client.NoDelay = true;
                new Thread(() => Serve(client)) { IsBackground = true, Name = "xtuner-store-client" }.Start();
            }
        }

        private void Serve(Socket client)
        {
            try
            {
                using (var hello = StoreProtocol.Receive(client))
                {
                    if (hello.ReadString() != StoreProtocol.Hello) return;
                }
                StoreProtocol.Send(client, w => w.Write(StoreProtocol.Hello));
                while (true)
                {
                    using var request = StoreProtocol.Receive(client);
                    Handle(client, request);
                }
            }
            catch (Exception e) when (e is IOException || e is SocketException || e is ObjectDisposedException)
            {
                // The client closed its connection or died: either way it is finished with the store.
            }
            finally
            {
                lock (_lock)
                {
                    _clients.Remove(client);
                    Monitor.PulseAll(_lock);
                }
                client.Dispose();
            }
        }

        private void Handle(Socket client, BinaryReader request)
        {
            var op = (StoreProtocol.Op)request.ReadByte();
            switch (op)
            {
                case StoreProtocol.Op.Set:
                {
                    var key = request.ReadString();
                    var value = request.ReadBytes(request.ReadInt32());
                    lock (_lock)
                    {
                        _data[key] = value;
                        Monitor.PulseAll(_lock);
                    }
                    StoreProtocol.Send(client, w => w.Write((byte)StoreProtocol.Status.Ok));
                    break;
                }
                case StoreProtocol.Op.Get:
                {
                    var key = request.ReadString();
                    var timeout = TimeSpan.FromMilliseconds(request.ReadInt64());
                    var missing = WaitFor(new[] { key }, timeout);
                    byte[]? value = null;
                    if (missing.Count == 0)
                        lock (_lock) value = _data[key];
                    StoreProtocol.Send(client, w =>
                    {
                        w.Write((byte)(value == null ? StoreProtocol.Status.TimedOut : StoreProtocol.Status.Ok));
                        if (value == null) return;
                        w.Write(value.Length);
                        w.Write(value);
                    });
                    break;
                }
                case StoreProtocol.Op.Add:
                {
                    var key = request.ReadString();
                    long delta = request.ReadInt64();
                    long result;
                    lock (_lock)
                    {
                        // Counters are stored as decimal text, so Get returns something a person can read.
                        result = (_data.TryGetValue(key, out var old) ? long.Parse(Encoding.UTF8.GetString(old), CultureInfo.InvariantCulture) : 0) + delta;
                        _data[key] = Encoding.UTF8.GetBytes(result.ToString(CultureInfo.InvariantCulture));
                        Monitor.PulseAll(_lock);
                    }
                    StoreProtocol.Send(client, w =>
                    {
                        w.Write((byte)StoreProtocol.Status.Ok);
                        w.Write(result);
                    });
                    break;
                }
                case StoreProtocol.Op.Wait:
                {
                    var keys = StoreProtocol.ReadKeys(request);
                    var timeout = TimeSpan.FromMilliseconds(request.ReadInt64());
                    var missing = WaitFor(keys, timeout);
                    StoreProtocol.Send(client, w =>
                    {
                        w.Write((byte)(missing.Count == 0 ? StoreProtocol.Status.Ok : StoreProtocol.Status.TimedOut));
                        StoreProtocol.WriteKeys(w, missing);
                    });
                    break;
                }
                default:
                    throw new InvalidDataException($"unknown store operation {(byte)op}");
            }
        }

        /// <summary>Blocks until every key is set or the timeout passes; returns the keys still missing.</summary>
        private List<string> WaitFor(IReadOnlyList<string> keys, TimeSpan timeout)
        {
            var watch = Stopwatch.StartNew();
            lock (_lock)
            {
                while (true)
                {
                    var missing = keys.Where(k => !_data.ContainsKey(k)).ToList();
                    if (missing.Count == 0 || _stopping || watch.Elapsed >= timeout) return missing;
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
