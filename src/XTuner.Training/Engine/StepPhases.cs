using System;
using System.Collections.Generic;
using System.Linq;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// Where a step's time goes (<c>xtuner benchmark --phases</c>, or <see cref="EnvironmentVariable"/>=1): code that
    /// does one kind of work (a matmul, attention, a norm, the optimizer, a recompute) enters a phase for its duration,
    /// phases nest (<c>backward/recompute/attention</c>), and each stretch of time belongs to the innermost phase open
    /// then. On CUDA the clock is a CUDA event per phase change on the stream libtorch computes on, so the figures are
    /// the device's time for the work queued in each phase, not the host's time queuing it; on the CPU ops run where
    /// they are called and a stopwatch suffices. The phases of a step sum to the step's time.
    /// </summary>
    public sealed class StepPhases : IDisposable
    {
        /// <summary>Set to 1 for a run's metrics to carry <c>phase_times_s</c> (events cost a few microseconds each).</summary>
        public const string EnvironmentVariable = "XTUNER_PHASE_TIMES";

        public const string Other = "other", Forward = "forward", Loss = "loss", Backward = "backward", Recompute = "recompute",
            Optimizer = "optimizer", Attention = "attention", Matmul = "matmul", Norm = "norm", Copies = "copies", AllToAll = "all_to_all";

        private static StepPhases? s_current;

        private readonly IPhaseClock _clock;
        private readonly object _lock = new object();
        private readonly Stack<string> _open = new Stack<string>();
        private readonly List<(int Mark, string Phase)> _marks = new List<(int, string)>();

        internal StepPhases(IPhaseClock clock) => _clock = clock;

        /// <summary>The timer of this process's run, installed when <see cref="EnvironmentVariable"/> asks for one.</summary>
        /// <param name="device">The CUDA device the rank computes on; null on the CPU.</param>
        internal static StepPhases? Install(int? device)
        {
            if (Environment.GetEnvironmentVariable(EnvironmentVariable) != "1") return null;
            s_current = new StepPhases(device is int index ? new CudaEventClock(index) : (IPhaseClock)new StopwatchClock());
            return s_current;
        }

        /// <summary>Enters <paramref name="phase"/> of the installed timer until the scope is disposed (nothing when none is).</summary>
        internal static Scope Enter(string phase) => s_current is StepPhases timer ? timer.Open(phase) : default;

        /// <summary>Starts a step: the time until the first phase (and between phases) is <see cref="Other"/>.</summary>
        internal void BeginStep()
        {
            lock (_lock)
            {
                _open.Clear();
                _marks.Clear();
                _clock.Reset();
                _open.Push(Other);
                _marks.Add((_clock.Mark(), Other));
            }
        }

        /// <summary>Ends the step: seconds per phase path (exclusive of the phases nested in it), waiting for the device's work of the step.</summary>
        internal IReadOnlyDictionary<string, double> EndStep()
        {
            lock (_lock)
            {
                _marks.Add((_clock.Mark(), Other));
                _clock.WaitFor(_marks[^1].Mark);
                var seconds = new SortedDictionary<string, double>(StringComparer.Ordinal);
                for (int i = 0; i + 1 < _marks.Count; i++)
                {
                    seconds.TryGetValue(_marks[i].Phase, out var sum);
                    seconds[_marks[i].Phase] = sum + _clock.SecondsBetween(_marks[i].Mark, _marks[i + 1].Mark);
                }
                // Until the next step (checkpoints, evaluation, the export) nothing is recorded.
                _open.Clear();
                _marks.Clear();
                return seconds;
            }
        }

        internal Scope Open(string phase)
        {
            lock (_lock)
            {
                // A phase inside a step only: outside one (setup, export), nothing is recorded.
                if (_open.Count == 0) return default;
                var path = _open.Peek() == Other ? phase : _open.Peek() + "/" + phase;
                _open.Push(path);
                _marks.Add((_clock.Mark(), path));
            }
            return new Scope(this);
        }

        private void Close()
        {
            lock (_lock)
            {
                if (_open.Count <= 1) return;
                _open.Pop();
                _marks.Add((_clock.Mark(), _open.Peek()));
            }
        }

        public void Dispose()
        {
            if (ReferenceEquals(s_current, this)) s_current = null;
            _clock.Dispose();
        }

        /// <summary>An open phase; disposing it returns to the phase around it.</summary>
        public readonly struct Scope : IDisposable
        {
            private readonly StepPhases? _owner;

            internal Scope(StepPhases owner) => _owner = owner;

            public void Dispose() => _owner?.Close();
        }
    }

    /// <summary>Marks in time, by number within the step (the clock may reuse what it holds for them after <see cref="Reset"/>).</summary>
    internal interface IPhaseClock : IDisposable
    {
        void Reset();

        int Mark();

        void WaitFor(int mark);

        double SecondsBetween(int first, int second);
    }

    /// <summary>Host time: right where every op runs where it is called (the CPU).</summary>
    internal sealed class StopwatchClock : IPhaseClock
    {
        private readonly List<long> _ticks = new List<long>();

        public void Reset() => _ticks.Clear();

        public int Mark()
        {
            _ticks.Add(System.Diagnostics.Stopwatch.GetTimestamp());
            return _ticks.Count - 1;
        }

        public void WaitFor(int mark)
        {
        }

        public double SecondsBetween(int first, int second) => (_ticks[second] - _ticks[first]) / (double)System.Diagnostics.Stopwatch.Frequency;

        public void Dispose()
        {
        }
    }

    /// <summary>Device time: a CUDA event recorded on stream 0 per mark, the events kept from step to step.</summary>
    internal sealed class CudaEventClock : IPhaseClock
    {
        private readonly List<IntPtr> _events = new List<IntPtr>();
        private readonly int _device;
        private int _used;

        public CudaEventClock(int device) => _device = device;

        public void Reset() => _used = 0;

        public int Mark()
        {
            if (_used == _events.Count) _events.Add(Kernels.CudaEvents.Create(_device));
            Kernels.CudaEvents.Record(_device, _events[_used]);
            return _used++;
        }

        public void WaitFor(int mark) => Kernels.CudaEvents.Synchronize(_device, _events[mark]);

        public double SecondsBetween(int first, int second) => Kernels.CudaEvents.ElapsedMilliseconds(_device, _events[first], _events[second]) / 1000.0;

        public void Dispose()
        {
            foreach (var e in _events.Where(e => e != IntPtr.Zero)) Kernels.CudaEvents.Destroy(_device, e);
            _events.Clear();
        }
    }
}
