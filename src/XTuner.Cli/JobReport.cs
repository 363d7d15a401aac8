using System;
using System.Globalization;
using System.IO;
using System.Threading;
using XTuner.Core.Slurm;

namespace XTuner.Cli
{
    /// <summary>How xtuner submit and xtuner job print a SLURM job: one status line, and a line per new step while waiting.</summary>
    internal sealed class JobReport
    {
        private readonly TextWriter _output;
        private int _lastStep = -1;
        private string? _lastState;

        public JobReport(TextWriter output) => _output = output;

        public static string Line(XTunerJob job)
        {
            var state = job.StateText ?? job.State.ToString().ToUpperInvariant();
            var where = job.Nodes != null ? $" on {job.Nodes}" : job.Reason != null && job.Reason != "None" ? $" ({job.Reason})" : "";
            var step = job.LastStep is { } m
                ? string.Format(CultureInfo.InvariantCulture, ", step {0}/{1}, loss {2:0.0000}", m.Step, m.TotalSteps, m.Loss)
                : "";
            var exit = job.ExitCode is int code && job.IsFinal ? $", exit code {code}" : "";
            return $"job {job.JobId} {job.Name}: {state}{where}, {job.Ranks} rank(s){step}{exit}; work dir {job.WorkDir}";
        }

        /// <summary>Prints the job when its state or step changed since the last call.</summary>
        public void Update(XTunerJob job)
        {
            var state = job.StateText ?? job.State.ToString();
            if (state == _lastState && job.Step == _lastStep) return;
            _lastState = state;
            _lastStep = job.Step;
            _output.WriteLine(Line(job));
        }

        /// <summary>Exit code for a job that ended: 0 completed, 130 cancelled, 1 otherwise.</summary>
        /// <exception cref="Core.XTunerException">The job failed: why (<see cref="SlurmJobs.Failure"/>), which xtuner prints.</exception>
        public static int Finish(XTunerJob job)
        {
            var failure = SlurmJobs.Failure(job);
            if (failure != null) throw failure;
            if (job.State == SlurmJobState.Unknown) Console.Error.WriteLine($"job {job.JobId}: {job.Reason}");
            return job.State == SlurmJobState.Completed ? 0 : job.State == SlurmJobState.Cancelled ? 130 : 1;
        }

        /// <summary>A token cancelled by Ctrl+C for as long as the returned registration lives.</summary>
        public static IDisposable OnCtrlC(CancellationTokenSource cancel, string message, TextWriter output)
        {
            ConsoleCancelEventHandler handler = (_, e) =>
            {
                e.Cancel = true;
                output.WriteLine(message);
                cancel.Cancel();
            };
            Console.CancelKeyPress += handler;
            return new Unsubscribe(() => Console.CancelKeyPress -= handler);
        }

        private sealed class Unsubscribe : IDisposable
        {
            private readonly Action _action;

            public Unsubscribe(Action action) => _action = action;

            public void Dispose() => _action();
        }
    }
}
