using System;
using System.Linq;
using XTuner.Core.Runs;

namespace XTuner.Core.Launch
{
    /// <summary>Rules that keep runs from trampling each other's work dirs.</summary>
    public static class WorkDirs
    {
        /// <summary>
        /// Refuses to start where a run is still going, or (without resume) where an earlier run left checkpoints
        /// that a fresh start would silently mix with its own.
        /// </summary>
        public static void CheckCanStart(string workDir, bool resume)
        {
            if (LocalLauncher.IsRunningIn(workDir))
                throw new XTunerException(ErrorIds.InvalidConfig,
                    $"A run of this session is already going in {workDir}; stop it (Stop-XTunerTraining -WorkDir {workDir}, Stop-Job), or choose another work dir.");
            var run = XTunerRun.Load(workDir);
            if (run != null && (run.State == RunState.Running || run.State == RunState.Starting) &&
                run.LauncherProcessId > 0 && run.Host == System.Environment.MachineName &&
                run.LauncherProcessId != System.Diagnostics.Process.GetCurrentProcess().Id &&
                ProcessSignals.IsAlive(run.LauncherProcessId) &&
                run.Ranks.Any(r => r.ProcessId > 0 && ProcessSignals.IsAlive(r.ProcessId)))
                throw new XTunerException(ErrorIds.InvalidConfig,
                    $"A run is already going in {workDir} (launcher pid {run.LauncherProcessId}); stop it with Stop-XTunerTraining -WorkDir {workDir}, or choose another work dir.");
            if (!resume && new WorkDirLayout(workDir).LatestCheckpoint != null)
                throw new XTunerException(ErrorIds.InvalidConfig,
                    $"{workDir} holds checkpoints of an earlier run. Resume it (-Resume / --resume), or choose another work dir (or remove that one).");
        }

        /// <summary>
        /// Refuses a resume that has nothing to resume from: <paramref name="resumeFrom"/> that is no complete checkpoint,
        /// or (without it) a work dir that holds none, which would otherwise start from scratch without a word.
        /// </summary>
        /// <exception cref="XTunerException"><see cref="ErrorIds.NothingToResume"/>, naming what was looked for.</exception>
        public static void CheckResumable(string workDir, string? resumeFrom)
        {
            if (resumeFrom != null)
            {
                var state = System.IO.Path.Combine(resumeFrom, WorkDirLayout.TrainerStateFile);
                if (!System.IO.File.Exists(state))
                    throw new XTunerException(ErrorIds.NothingToResume,
                        $"'{resumeFrom}' is no complete checkpoint ({state} does not exist): name a checkpoints/step-N folder of a run, or resume the work dir's latest with -Resume / --resume alone.");
                return;
            }
            var layout = new WorkDirLayout(workDir);
            if (layout.LatestCheckpoint == null)
                throw new XTunerException(ErrorIds.NothingToResume,
                    $"There is nothing to resume in {workDir}: it holds no complete checkpoint ({layout.Checkpoints}/{WorkDirLayout.CheckpointPrefix}N with " +
                    $"{WorkDirLayout.TrainerStateFile}). Start without -Resume / --resume, or name a checkpoint with -ResumeFrom / --resume PATH.");
        }
    }
}
