using System.Net;
using System.Net.Sockets;

namespace XTuner.Training.Tests.Distributed
{
    internal static class FreePort
    {
        /// <summary>A loopback port nothing listens on right now (the OS picks it; a race with another taker is unlikely).</summary>
        public static int Next()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            return port;
        }

        public static bool IsFree(int port)
        {
            try
            {
                var listener = new TcpListener(IPAddress.Any, port);
                listener.Start();
                listener.Stop();
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }
    }
}
