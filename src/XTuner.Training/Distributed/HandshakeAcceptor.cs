using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.Sockets;
using System.Threading;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// The accept side of a listening rank (the rendezvous store, a peer port): a thread takes every connection and
    /// hands it to a thread of its own, so a stranger that stalls its handshake stalls only that thread. At most
    /// <see cref="MaxPending"/> connections are in their handshake at once; more are told to come back later
    /// (<see cref="Handshake.SendBusy"/>) and closed. The owner <see cref="Release"/>s a connection once its handshake
    /// is over, and <see cref="Dispose"/> closes the listener and every connection still in its handshake.
    /// </summary>
    internal sealed class HandshakeAcceptor : IDisposable
    {
        /// <summary>Connections in their handshake at once.</summary>
        public const int MaxPending = 32;

        private readonly Socket _listener;
        private readonly ConnectionLog _log;
        private readonly Action<Socket> _handle;
        private readonly string _threadName;
        private readonly object _lock = new object();
        private readonly HashSet<Socket> _pending = new HashSet<Socket>();
        private bool _stopped;

        /// <param name="listener">A bound, listening socket; the acceptor owns it from here on.</param>
        /// <param name="log">Where refused connections and failed accepts are reported.</param>
        /// <param name="threadName">Names the accept thread ("-accept") and each connection's thread.</param>
        /// <param name="handle">Runs on the connection's own thread: the handshake and whatever follows it.</param>
        public HandshakeAcceptor(Socket listener, ConnectionLog log, string threadName, Action<Socket> handle)
        {
            _listener = listener;
            _log = log;
            _handle = handle;
            _threadName = threadName;
        }

        /// <summary>Starts taking connections (apart from the constructor, so that the owner is whole before the first one).</summary>
        public void Start() => new Thread(AcceptLoop) { IsBackground = true, Name = _threadName + "-accept" }.Start();

        /// <summary>The connection's handshake is over (passed or failed): it no longer counts, nor is closed by <see cref="Dispose"/>.</summary>
        public void Release(Socket socket)
        {
            lock (_lock) _pending.Remove(socket);
        }

        public void Dispose()
        {
            List<Socket> pending;
            lock (_lock)
            {
                if (_stopped) return;
                _stopped = true;
                pending = _pending.ToList();
            }
            _listener.Dispose();
            foreach (var socket in pending) socket.Dispose();
        }

        /// <summary>The connection's remote address, or null once it cannot be read (a closed socket).</summary>
        public static string? RemoteAddress(Socket socket)
        {
            try
            {
                return socket.RemoteEndPoint?.ToString();
            }
            catch (Exception)
            {
                return null;
            }
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
                    lock (_lock) if (_stopped) return;
                    // Out of file descriptors and the like: say so, wait a little, and keep serving the ranks.
                    _log.Closed(null, "accept failed: " + e.Message);
                    Thread.Sleep(100);
                    continue;
                }
                bool busy;
                lock (_lock)
                {
                    if (_stopped)
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
                    new Thread(() => _handle(socket)) { IsBackground = true, Name = _threadName }.Start();
                }
                catch (Exception e)
                {
                    Release(socket);
                    Refuse(socket, "no thread to take it: " + e.Message);
                }
            }
        }

        private void Refuse(Socket socket, string why)
        {
            var from = RemoteAddress(socket);
            try
            {
                Handshake.SendBusy(socket);
            }
            catch (Exception)
            {
                // It is being closed anyway.
            }
            socket.Dispose();
            _log.Closed(from, why);
        }
    }
}
