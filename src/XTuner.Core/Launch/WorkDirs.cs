using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using XTuner.Core.Runs;

namespace XTuner.Core.Launch
{
    /// <summary>Rules that keep runs from trampling each other's work dirs.</summary>
    public static class WorkDirs
    {
        public const string CheckpointFolder = "checkpoints";

        /// <summary>A checkpoint folder's name: this and the step (<c>step-000120</c>).</summary>
        public const string CheckpointPrefix = "step-";

        /// <summary>The suffix of a checkpoint being written; it is renamed to its final name once complete.</summary>
        public const string CheckpointTempSuffix = ".tmp";

        /// <summary>Written last into a checkpoint: a checkpoint folder without it is incomplete.</summary>
        public const string TrainerStateFile = "trainer_state.json";

        /// <summary>The default work dir of a config: work_dirs/NAME under the base directory.</summary>
        public static string Default(string? name, string baseDirectory) =>
            Path.Combine(baseDirectory, "work_dirs", string.IsNullOrEmpty(name) ? "xtuner" : name!);

        /// <summary>
        /// The newest complete checkpoint in a work dir: the <c>checkpoints/step-*</c> folder with the highest step that
        /// holds <see cref="TrainerStateFile"/> and is not a save in progress (<c>.tmp</c>, left behind by a crash).
        /// Null when there is none. The sbatch script's resume test (<see cref="Slurm.SbatchScript"/>) is the same rule.
        /// </summary>
        public static string? LatestCheckpoint(string workDir) => CompleteCheckpoints(workDir).LastOrDefault();

        /// <summary>Every complete checkpoint in a work dir, oldest (lowest step) first (the rule of <see cref="LatestCheckpoint"/>).</summary>
        public static IReadOnlyList<string> CompleteCheckpoints(string workDir)
        {
            var root = Path.Combine(workDir, CheckpointFolder);
            if (!Directory.Exists(root)) return new string[0];
            return Directory.EnumerateDirectories(root, CheckpointPrefix + "*")
                .Where(d => !d.EndsWith(CheckpointTempSuffix, StringComparison.Ordinal) && File.Exists(Path.Combine(d, TrainerStateFile)))
                .OrderBy(StepOf)
                .ThenBy(d => d, StringComparer.Ordinal)
                .ToList();
        }

        // By number, so that step-1000000 comes after step-999999; a name that is no number sorts first.
        private static long StepOf(string checkpoint) =>
            long.TryParse(Path.GetFileName(checkpoint).Substring(CheckpointPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var step) ? step : -1;

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
            if (!resume && LatestCheckpoint(workDir) != null)
                throw new XTunerException(ErrorIds.InvalidConfig,
                    $"{workDir} holds checkpoints of an earlier run. Resume it (-Resume / --resume), or choose another work dir (or remove that one).");
        }
    }
}
