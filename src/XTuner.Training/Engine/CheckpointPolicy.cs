using System;
using System.Runtime.InteropServices;
using XTuner.Core.Launch;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// When to save a checkpoint and when to stop after one: every <c>save_steps</c> steps, after the last step (unless
    /// saving is off), and at the next step boundary after any rank got <see cref="ProcessSignals.CheckpointSignal"/>
    /// (SIGUSR1: SLURM's warning before the time limit; training goes on) or
    /// <see cref="ProcessSignals.CheckpointAndStopSignal"/> (SIGUSR2: the run ends there, to be resumed). The ranks agree
    /// on both through the step's summary all-reduce.
    /// </summary>
    internal sealed class CheckpointPolicy : IDisposable
    {
        private readonly int _saveSteps;
        private readonly PosixSignalRegistration? _checkpoint;
        private readonly PosixSignalRegistration? _stop;
        private volatile bool _requested;
        private volatile bool _stopRequested;

        public CheckpointPolicy(int saveSteps)
        {
            _saveSteps = saveSteps;
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return;
            _checkpoint = PosixSignalRegistration.Create((PosixSignal)ProcessSignals.CheckpointSignal, ctx =>
            {
                ctx.Cancel = true;
                _requested = true;
            });
            _stop = PosixSignalRegistration.Create((PosixSignal)ProcessSignals.CheckpointAndStopSignal, ctx =>
            {
                ctx.Cancel = true;
                _stopRequested = true;
            });
        }

        /// <summary>This rank was asked to checkpoint since the last save.</summary>
        public bool Requested => _requested;

        /// <summary>This rank was asked to checkpoint and stop.</summary>
        public bool StopRequested => _stopRequested;

        /// <summary>Whether to save after <paramref name="step"/> (from 1), given whether any rank was asked to save or to stop.</summary>
        public bool ShouldSave(int step, int totalSteps, bool requestedAnywhere, bool stopRequestedAnywhere)
        {
            bool scheduled = _saveSteps > 0 && step % _saveSteps == 0;
            bool last = step == totalSteps && _saveSteps > 0;
            return scheduled || last || requestedAnywhere || ShouldStop(step, totalSteps, stopRequestedAnywhere);
        }

        /// <summary>Whether to end after <paramref name="step"/> with its checkpoint: asked to, and it is not the last step (which ends anyway, with the export).</summary>
        public static bool ShouldStop(int step, int totalSteps, bool stopRequestedAnywhere) => stopRequestedAnywhere && step < totalSteps;

        /// <summary>A checkpoint was written: a request before it is answered.</summary>
        public void Saved() => _requested = false;

        public void Dispose()
        {
            _checkpoint?.Dispose();
            _stop?.Dispose();
        }
    }
}
