using System;
using System.Collections.Generic;
using System.Globalization;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// The numbered barriers of one group in the store (prefix0, prefix1, ...). Once a rank has passed barrier n, every
    /// member has arrived at it and so has left barrier n-1: the rank then removes its arrival key of n-1, and a run
    /// that passes a barrier at every step keeps two barriers' keys in the store, not one per step.
    /// </summary>
    internal sealed class BarrierSequence
    {
        private readonly TcpStore _store;
        private readonly string _prefix;
        private readonly IReadOnlyList<int> _ranks;
        private int _next;

        public BarrierSequence(TcpStore store, string prefix, IReadOnlyList<int> ranks)
        {
            _store = store;
            _prefix = prefix;
            _ranks = ranks;
        }

        /// <exception cref="Core.XTunerException">Some members did not arrive in time (named).</exception>
        public void Pass(TimeSpan timeout)
        {
            int n = _next++;
            _store.Barrier(Name(n), _ranks, timeout);
            if (n > 0) _store.Delete(new[] { TcpStore.ArrivalKey(Name(n - 1), _store.Rank) });
        }

        private string Name(int n) => _prefix + n.ToString(CultureInfo.InvariantCulture);
    }
}
