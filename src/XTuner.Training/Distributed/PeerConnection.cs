using System;
using System.IO;
using System.Net.Sockets;
using XTuner.Core;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// One TCP connection between two ranks of the CPU backend, used in both directions at once (a send on one thread
    /// while a receive runs on another). Moves tensor memory without copies and turns every socket failure into an
    /// <see cref="XTunerException"/> that names the peer and the collective.
    /// </summary>
    internal sealed class PeerConnection : IDisposable
    {
        // Socket calls take spans of at most int.MaxValue bytes; tensors can be larger.
        private const int MaxPiece = 1 << 30;

        private readonly Socket _socket;
        private readonly TimeSpan _timeout;

        public PeerConnection(Socket socket, int peerRank, TimeSpan timeout)
        {
            _socket = socket;
            _timeout = timeout;
            PeerRank = peerRank;
            socket.NoDelay = true;
            socket.ReceiveTimeout = SocketExtensions.TimeoutMilliseconds(timeout);
            socket.SendTimeout = SocketExtensions.TimeoutMilliseconds(timeout);
        }

        public int PeerRank { get; }

        public unsafe void Send(IntPtr data, long bytes, string operation)
        {
            Guard(operation, () =>
            {
                for (long done = 0; done < bytes; done += MaxPiece)
                    _socket.SendAll(new ReadOnlySpan<byte>((byte*)data + done, (int)Math.Min(MaxPiece, bytes - done)));
            });
        }

        public unsafe void Receive(IntPtr data, long bytes, string operation)
        {
            Guard(operation, () =>
            {
                for (long done = 0; done < bytes; done += MaxPiece)
                    _socket.ReceiveAll(new Span<byte>((byte*)data + done, (int)Math.Min(MaxPiece, bytes - done)));
            });
        }

        /// <summary>Closes the socket, which also makes a send or receive blocked on it in another thread fail at once.</summary>
        public void Dispose() => _socket.Dispose();

        private void Guard(string operation, Action io)
        {
            try
            {
                io();
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
            {
                throw new XTunerException(ErrorIds.CollectiveFailed,
                    $"Rank {PeerRank} exchanged nothing for {SocketExtensions.Seconds(_timeout)} during {operation}: it may be stuck, " +
                    "or the ranks are not calling the same collectives in the same order.", e);
            }
            catch (Exception e) when (e is IOException || e is SocketException || e is ObjectDisposedException)
            {
                throw new PeerLostException(PeerRank, $"Rank {PeerRank} closed its connection during {operation}.", e);
            }
        }
    }
}
