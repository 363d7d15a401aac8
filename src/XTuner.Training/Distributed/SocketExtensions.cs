using System;
using System.IO;
using System.Net.Sockets;

namespace XTuner.Training.Distributed
{
    /// <summary>Whole-buffer socket I/O: a blocking socket sends and receives in pieces; these loop until done.</summary>
    internal static class SocketExtensions
    {
        /// <summary>Sends all of <paramref name="data"/>.</summary>
        public static void SendAll(this Socket socket, ReadOnlySpan<byte> data)
        {
            while (data.Length > 0)
            {
                int sent = socket.Send(data, SocketFlags.None);
                data = data.Slice(sent);
            }
        }

        /// <summary>Fills all of <paramref name="buffer"/>.</summary>
        /// <exception cref="EndOfStreamException">The other side closed the connection first.</exception>
        public static void ReceiveAll(this Socket socket, Span<byte> buffer)
        {
            while (buffer.Length > 0)
            {
                int received = socket.Receive(buffer, SocketFlags.None);
                if (received == 0) throw new EndOfStreamException("the connection was closed by the other side");
                buffer = buffer.Slice(received);
            }
        }

        /// <summary>Milliseconds for <see cref="Socket.ReceiveTimeout"/> (0 there means forever, so never return 0).</summary>
        public static int TimeoutMilliseconds(TimeSpan timeout, TimeSpan extra = default) =>
            (int)Math.Max(1, Math.Min(int.MaxValue, Math.Ceiling(timeout.TotalMilliseconds + extra.TotalMilliseconds)));

        /// <summary>"30 s", "2.5 s": timeouts as messages show them.</summary>
        public static string Seconds(TimeSpan timeout) =>
            timeout.TotalSeconds.ToString(timeout.TotalSeconds >= 10 ? "0" : "0.#", System.Globalization.CultureInfo.InvariantCulture) + " s";
    }
}
