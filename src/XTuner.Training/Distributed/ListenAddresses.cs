using System;
using System.Linq;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using XTuner.Core;
using XTuner.Core.Launch;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// Where the rendezvous store and the peer connections listen, and where ranks reach the store. A run on one node
    /// stays on loopback, out of reach of the network; a run across nodes listens on the interface of MASTER_ADDR (the
    /// store) or of the route to rank 0 (peers), unless <see cref="RunToken.BindAddressVariable"/> names one.
    /// </summary>
    internal static class ListenAddresses
    {
        /// <summary>The host ranks connect to for the store: loopback (or the bind address) on one node, else MASTER_ADDR.</summary>
        public static string StoreHost(RankEnvironment env) =>
            env.IsSingleNode ? env.BindAddress ?? RankEnvironment.LoopbackAddress : env.MasterAddress;

        /// <summary>The address rank 0's store listens on; <paramref name="note"/> hears when that is every interface.</summary>
        /// <exception cref="XTunerException">XTUNER_BIND_ADDR is no address of this host (<see cref="ErrorIds.InvalidRankEnvironment"/>).</exception>
        public static IPAddress ForStore(RankEnvironment env, Action<string> note)
        {
            if (env.BindAddress != null) return Parse(env.BindAddress);
            if (env.IsSingleNode) return IPAddress.Loopback;
            var local = LocalAddresses();
            var master = Resolve(env.MasterAddress).FirstOrDefault(a => !IPAddress.IsLoopback(a) && local.Contains(a));
            if (master != null) return master;
            // Debian and Ubuntu map the host's own name to 127.0.1.1: MASTER_ADDR then names no interface here, though
            // the other nodes reach this one through it. The handshake keeps strangers out on every interface.
            note($"xtuner: MASTER_ADDR {env.MasterAddress} names no network interface of rank 0's host; the rendezvous store " +
                 $"listens on all of them (set {RunToken.BindAddressVariable} to choose one).");
            return IPAddress.Any;
        }

        /// <summary>
        /// The address a rank's peer listener binds and publishes: loopback on one node; across nodes this host's
        /// address on the route to rank 0 (<paramref name="towardsRankZero"/>, the local end of its store connection).
        /// On rank 0's own host that route is loopback, which other hosts cannot use: then the host's first other IPv4 address.
        /// </summary>
        public static (IPAddress Bind, IPAddress Publish) ForPeers(RankEnvironment env, IPAddress towardsRankZero)
        {
            if (env.BindAddress != null)
            {
                var bind = Parse(env.BindAddress);
                return (bind, bind.Equals(IPAddress.Any) ? Routable(towardsRankZero) : bind);
            }
            if (env.IsSingleNode) return (IPAddress.Loopback, IPAddress.Loopback);
            var publish = Routable(towardsRankZero);
            return (publish, publish);
        }

        private static IPAddress Routable(IPAddress towardsRankZero)
        {
            if (!IPAddress.IsLoopback(towardsRankZero) && !towardsRankZero.Equals(IPAddress.Any)) return towardsRankZero;
            return Resolve(Dns.GetHostName()).FirstOrDefault(a => !IPAddress.IsLoopback(a)) ?? IPAddress.Loopback;
        }

        private static IPAddress Parse(string text)
        {
            if (IPAddress.TryParse(text, out var literal) && literal.AddressFamily == AddressFamily.InterNetwork) return literal;
            var resolved = Resolve(text).FirstOrDefault();
            if (resolved != null) return resolved;
            throw new XTunerException(ErrorIds.InvalidRankEnvironment,
                $"{RunToken.BindAddressVariable}='{text}' is no IPv4 address or host name: name an address of this host's interface toward the other nodes.");
        }

        private static IPAddress[] Resolve(string host)
        {
            try
            {
                return Dns.GetHostAddresses(host).Where(a => a.AddressFamily == AddressFamily.InterNetwork).ToArray();
            }
            catch (SocketException)
            {
                return Array.Empty<IPAddress>();
            }
        }

        private static IPAddress[] LocalAddresses()
        {
            try
            {
                return NetworkInterface.GetAllNetworkInterfaces()
                    .SelectMany(i => i.GetIPProperties().UnicastAddresses)
                    .Select(u => u.Address)
                    .Where(a => a.AddressFamily == AddressFamily.InterNetwork)
                    .ToArray();
            }
            catch (NetworkInformationException)
            {
                return Array.Empty<IPAddress>();
            }
        }
    }
}
