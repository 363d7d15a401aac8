using System;
using System.Diagnostics;
using System.Globalization;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// Where a listening rank reports the connections it closed (strangers, wrong secrets, broken messages). Bounded,
    /// because whoever connects decides how often this is called: at most <see cref="Burst"/> lines per
    /// <see cref="Window"/>, then one line that says how many more were left out.
    /// </summary>
    internal sealed class ConnectionLog
    {
        private const int Burst = 10;
        private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

        private readonly Action<string> _write;
        private readonly string _listener;
        private readonly object _lock = new object();
        private readonly Func<TimeSpan> _clock;
        private TimeSpan _windowStart;
        private int _written;
        private int _dropped;

        /// <param name="write">Where lines go (the rank's log: stderr).</param>
        /// <param name="listener">Names the listener in each line, e.g. "rendezvous store 127.0.0.1:29500".</param>
        /// <param name="clock">The time (tests pass their own; default: a stopwatch started now).</param>
        public ConnectionLog(Action<string> write, string listener, Func<TimeSpan>? clock = null)
        {
            _write = write;
            _listener = listener;
            if (clock == null)
            {
                var watch = Stopwatch.StartNew();
                clock = () => watch.Elapsed;
            }
            _clock = clock;
        }

        /// <summary>Connections reported so far, shown or not.</summary>
        public int Count { get; private set; }

        public void Closed(string? from, string why)
        {
            string? summary = null, line = null;
            lock (_lock)
            {
                Count++;
                var now = _clock();
                if (now - _windowStart >= Window)
                {
                    if (_dropped > 0)
                        summary = string.Format(CultureInfo.InvariantCulture, "xtuner: {0}: {1} more connection(s) closed in the last minute (not shown)", _listener, _dropped);
                    _windowStart = now;
                    _written = 0;
                    _dropped = 0;
                }
                if (_written < Burst)
                {
                    _written++;
                    line = $"xtuner: {_listener}: closed a connection from {from ?? "an unknown address"}: {why}";
                }
                else
                {
                    _dropped++;
                }
            }
            if (summary != null) Write(summary);
            if (line != null) Write(line);
        }

        private void Write(string line)
        {
            try
            {
                _write(line);
            }
            catch (Exception)
            {
                // A log that cannot be written (a closed stream at exit) must not take the listener down.
            }
        }
    }
}
