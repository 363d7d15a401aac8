using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;

namespace XTuner.Cli
{
    /// <summary>
    /// SIGTERM and SIGHUP (a scheduler's stop, a closed terminal) and Ctrl+C for a command that runs ranks: instead of
    /// ending the process at once, which would leave the ranks to notice on their own and the run recorded as Running,
    /// they cancel a token, and the command stops its ranks and records the run as Stopped. The first Ctrl+C may ask for
    /// a checkpoint first (<see cref="Cancel"/>'s <c>checkpointFirst</c>); the next one, or either signal, stops at once.
    /// </summary>
    internal sealed class StopSignals : IDisposable
    {
        private readonly IDisposable[] _registrations;
        private readonly CancellationTokenSource _cancel;
        private readonly TextWriter _output;
        private readonly Func<bool>? _checkpointFirst;
        private readonly object _lock = new object();
        private int _signal;
        private bool _checkpointing;
        private bool _cancelled;

        private StopSignals(CancellationTokenSource cancel, TextWriter output, Func<bool>? checkpointFirst)
        {
            _cancel = cancel;
            _output = output;
            _checkpointFirst = checkpointFirst;
            ConsoleCancelEventHandler ctrlC = (_, e) =>
            {
                e.Cancel = true;
                Interrupt();
            };
            Console.CancelKeyPress += ctrlC;
            _registrations = new IDisposable[]
            {
                new Unsubscribe(() => Console.CancelKeyPress -= ctrlC),
                PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
                {
                    ctx.Cancel = true;
                    Stop(15, "SIGTERM");
                }),
                PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
                {
                    ctx.Cancel = true;
                    Stop(1, "SIGHUP");
                }),
            };
        }

        /// <summary>
        /// Cancels <paramref name="cancel"/> on the first of Ctrl+C, SIGTERM or SIGHUP, for as long as the result lives.
        /// With <paramref name="checkpointFirst"/>, the first Ctrl+C calls it instead; when it answers true (the ranks
        /// were asked to save a checkpoint and end), only a second Ctrl+C, or a signal, cancels.
        /// </summary>
        public static StopSignals Cancel(CancellationTokenSource cancel, TextWriter output, Func<bool>? checkpointFirst = null) =>
            new StopSignals(cancel, output, checkpointFirst);

        /// <summary>The exit code of a command that stopped for a signal: 128 + its number (130 Ctrl+C, 143 SIGTERM, 129 SIGHUP).</summary>
        public int ExitCode => 128 + (_signal == 0 ? 2 : _signal);

        /// <summary>Ctrl+C: a checkpoint first if it is the first and one can be asked for, else a stop.</summary>
        internal void Interrupt()
        {
            lock (_lock)
            {
                if (_cancelled) return;
                if (!_checkpointing && _checkpointFirst != null && _checkpointFirst())
                {
                    _checkpointing = true;
                    if (_signal == 0) _signal = 2;
                    Say("Ctrl+C: every rank saves a checkpoint at the end of its step, then stops (Ctrl+C again stops at once)...");
                    return;
                }
            }
            Stop(2, "Ctrl+C");
        }

        private void Stop(int signal, string name)
        {
            lock (_lock)
            {
                if (_cancelled) return;
                _cancelled = true;
                if (_signal == 0) _signal = signal;
            }
            Say($"{name}: stopping every rank...");
            _cancel.Cancel();
        }

        private void Say(string line)
        {
            try
            {
                _output.WriteLine(line);
            }
            catch (IOException)
            {
                // A closed terminal (SIGHUP) has no output left: stop all the same.
            }
        }

        public void Dispose()
        {
            foreach (var registration in _registrations) registration.Dispose();
        }

        private sealed class Unsubscribe : IDisposable
        {
            private readonly Action _action;

            public Unsubscribe(Action action) => _action = action;

            public void Dispose() => _action();
        }
    }
}
