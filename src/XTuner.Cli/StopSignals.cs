using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;

namespace XTuner.Cli
{
    /// <summary>
    /// SIGTERM and SIGHUP (a scheduler's stop, a closed terminal) and Ctrl+C for a command that runs ranks: instead of
    /// ending the process at once, which would leave the ranks to notice on their own and the run recorded as Running,
    /// they cancel a token, and the command stops its ranks and records the run as Stopped.
    /// </summary>
    internal sealed class StopSignals : IDisposable
    {
        private readonly IDisposable[] _registrations;
        private int _signal;

        private StopSignals(CancellationTokenSource cancel, TextWriter output)
        {
            ConsoleCancelEventHandler ctrlC = (_, e) =>
            {
                e.Cancel = true;
                Stop(2, "Ctrl+C", cancel, output);
            };
            Console.CancelKeyPress += ctrlC;
            _registrations = new IDisposable[]
            {
                new Unsubscribe(() => Console.CancelKeyPress -= ctrlC),
                PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
                {
                    ctx.Cancel = true;
                    Stop(15, "SIGTERM", cancel, output);
                }),
                PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
                {
                    ctx.Cancel = true;
                    Stop(1, "SIGHUP", cancel, output);
                }),
            };
        }

        /// <summary>Cancels <paramref name="cancel"/> on the first of Ctrl+C, SIGTERM or SIGHUP, for as long as the result lives.</summary>
        public static StopSignals Cancel(CancellationTokenSource cancel, TextWriter output) => new StopSignals(cancel, output);

        /// <summary>The exit code of a command that stopped for a signal: 128 + its number (130 Ctrl+C, 143 SIGTERM, 129 SIGHUP).</summary>
        public int ExitCode => 128 + (_signal == 0 ? 2 : _signal);

        private void Stop(int signal, string name, CancellationTokenSource cancel, TextWriter output)
        {
            if (Interlocked.CompareExchange(ref _signal, signal, 0) != 0) return;
            try
            {
                output.WriteLine($"{name}: stopping every rank...");
            }
            catch (IOException)
            {
                // A closed terminal (SIGHUP) has no output left: stop all the same.
            }
            cancel.Cancel();
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
