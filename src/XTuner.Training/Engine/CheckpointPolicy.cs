using System;
using System.Runtime.InteropServices;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// When to save a checkpoint: every <c>save_steps</c> steps, after the last step (unless saving is off), and at the
    /// next step boundary after any rank got SIGUSR1 (SLURM's warning before the time limit; the ranks agree on it
    /// through the step's summary all-reduce).
    /// </summary>
    internal sealed class CheckpointPolicy : IDisposable
    {
        private const int SigUsr1 = 10;

        private readonly int _saveSteps;
        private readonly PosixSignalRegistration? _usr1;
        private volatile bool _requested;

        public CheckpointPolicy(int saveSteps)
        {
            _saveSteps = saveSteps;
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
                _usr1 = PosixSignalRegistration.Create((PosixSignal)SigUsr1, ctx =>
                {
                    ctx.Cancel = true;
                    _requested = true;
                });
        }

        /// <summary>This rank was asked to checkpoint since the last save.</summary>
        public bool Requested => _requested;

        /// <summary>Whether to save after <paramref name="step"/> (from 1), given whether any rank was asked to.</summary>
        public bool ShouldSave(int step, int totalSteps, bool requestedAnywhere)
        {
            bool scheduled = _saveSteps > 0 && step % _saveSteps == 0;
            bool last = step == totalSteps && _saveSteps > 0;
            return scheduled || last || requestedAnywhere;
        }

        /// <summary>A checkpoint was written: a request before it is answered.</summary>
        public void Saved() => _requested = false;

        public void Dispose() => _usr1?.Dispose();
    }
}
