using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace XTuner.Core.Runs
{
    /// <summary>
    /// Where everything of a run lives inside its work dir: the one place that names these files and folders, for the
    /// launchers, the ranks, the SLURM script and the readers (<see cref="XTunerRun"/>, <see cref="Slurm.XTunerJob"/>).
    /// </summary>
    public sealed class WorkDirLayout
    {
        /// <summary>A checkpoint folder's name: this and the step (<c>step-000120</c>).</summary>
        public const string CheckpointPrefix = "step-";

        /// <summary>The suffix of a checkpoint being written; it is renamed to its final name once complete.</summary>
        public const string CheckpointTempSuffix = ".tmp";

        /// <summary>Written last into a checkpoint: a checkpoint folder without it is incomplete.</summary>
        public const string TrainerStateFile = "trainer_state.json";

        public const string CheckpointFolderName = "checkpoints";
        public const string RunRecordName = "run.json";
        public const string SlurmJobRecordName = "slurm-job.json";
        public const string MetricsName = "metrics.jsonl";
        public const string LockName = ".xtuner.lock";

        public WorkDirLayout(string root)
        {
            if (string.IsNullOrEmpty(root)) throw new ArgumentException("A work dir needs a path.", nameof(root));
            Root = root;
        }

        public string Root { get; }

        /// <summary>Each rank's output: <c>logs/rankN.log</c>.</summary>
        public string Logs => Path.Combine(Root, "logs");

        public string RankLog(int rank) => Path.Combine(Logs, "rank" + rank.ToString(CultureInfo.InvariantCulture) + ".log");

        /// <summary>The config the ranks read (overrides applied, paths absolute).</summary>
        public string Config => Path.Combine(Root, "config.yaml");

        /// <summary>Held by the local launcher while its run goes (<see cref="Launch.WorkDirLock"/>).</summary>
        public string Lock => Path.Combine(Root, LockName);

        /// <summary>The local launcher's record of the run.</summary>
        public string RunRecord => Path.Combine(Root, RunRecordName);

        /// <summary>The SLURM job last submitted from this work dir, as last seen.</summary>
        public string SlurmJobRecord => Path.Combine(Root, SlurmJobRecordName);

        public string SbatchScript => Path.Combine(Root, "submit.sbatch");

        /// <summary>The batch script's stdout (<c>slurm-JOBID.out</c>) or, with <paramref name="error"/>, its stderr.</summary>
        public string SlurmOutput(string jobId, bool error = false) => Path.Combine(Root, "slurm-" + jobId + (error ? ".err" : ".out"));

        /// <summary>The file-name pattern sbatch expands (<c>%j</c> is the job id), before escaping.</summary>
        public string SlurmOutputPrefix => Path.Combine(Root, "slurm-");

        /// <summary>One line per optimizer step (rank 0).</summary>
        public string Metrics => Path.Combine(Root, MetricsName);

        public string TensorBoard => Path.Combine(Root, "tensorboard");

        /// <summary>Loss, learning rate and tokens/s against step, drawn at every checkpoint and at the end (rank 0).</summary>
        public string LossPlot => Path.Combine(Root, "loss.png");

        /// <summary>The final model as a Hugging Face checkpoint.</summary>
        public string Model => Path.Combine(Root, "hf");

        public string Checkpoints => Path.Combine(Root, CheckpointFolderName);

        /// <summary>The folder of the checkpoint saved after <paramref name="step"/> (<c>checkpoints/step-000120</c>).</summary>
        public string Checkpoint(int step) => Path.Combine(Checkpoints, CheckpointPrefix + step.ToString("D6", CultureInfo.InvariantCulture));

        /// <summary>
        /// The newest complete checkpoint: the <c>checkpoints/step-*</c> folder with the highest step that holds
        /// <see cref="TrainerStateFile"/> and is not a save in progress (<c>.tmp</c>, left behind by a crash). Null when
        /// there is none. The sbatch script's resume test (<see cref="Slurm.SbatchScript"/>) is the same rule.
        /// </summary>
        public string? LatestCheckpoint => CompleteCheckpoints().LastOrDefault();

        /// <summary>Every complete checkpoint, oldest (lowest step) first (the rule of <see cref="LatestCheckpoint"/>).</summary>
        public IReadOnlyList<string> CompleteCheckpoints()
        {
            if (!Directory.Exists(Checkpoints)) return new string[0];
            return Directory.EnumerateDirectories(Checkpoints, CheckpointPrefix + "*")
                .Where(d => !d.EndsWith(CheckpointTempSuffix, StringComparison.Ordinal) && File.Exists(Path.Combine(d, TrainerStateFile)))
                .OrderBy(StepOf)
                .ThenBy(d => d, StringComparer.Ordinal)
                .ToList();
        }

        /// <summary>The default work dir of a config: work_dirs/NAME under the base directory.</summary>
        public static string Default(string? name, string baseDirectory) =>
            Path.Combine(baseDirectory, "work_dirs", string.IsNullOrEmpty(name) ? "xtuner" : name!);

        // By number, so that step-1000000 comes after step-999999; a name that is no number sorts first.
        private static long StepOf(string checkpoint) =>
            long.TryParse(Path.GetFileName(checkpoint).Substring(CheckpointPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var step) ? step : -1;

        public override string ToString() => Root;
    }
}
