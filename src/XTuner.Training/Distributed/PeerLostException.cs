using System;
using XTuner.Core;

namespace XTuner.Training.Distributed
{
    /// <summary>A peer's connection closed in the middle of a collective (<see cref="ErrorIds.PeerLost"/>).</summary>
    internal sealed class PeerLostException : XTunerException
    {
        public PeerLostException(int peerRank, string message, Exception inner)
            : base(ErrorIds.PeerLost, message, inner)
        {
            PeerRank = peerRank;
        }

        public int PeerRank { get; }
    }
}
