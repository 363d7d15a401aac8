using System.Collections.Generic;

namespace XTuner.Core.Configuration
{
    /// <summary>What <c>Start-XTunerTraining -Launcher Slurm</c> writes into the sbatch script.</summary>
    public sealed class SlurmSettings
    {
        [ConfigKey("partition", "sbatch --partition (default: the cluster's default partition).")]
        public string? Partition { get; set; }

        [ConfigKey("account", "sbatch --account.")]
        public string? Account { get; set; }

        [ConfigKey("time", "sbatch --time, e.g. 2-00:00:00.")]
        public string? Time { get; set; }

        [ConfigKey("gres", "sbatch --gres (default gpu:<gpus_per_node> on CUDA, none on CPU).")]
        public string? Gres { get; set; }

        [ConfigKey("cpus_per_task", "sbatch --cpus-per-task.")]
        public int? CpusPerTask { get; set; }

        [ConfigKey("job_name", "sbatch --job-name (default: the config's name).")]
        public string? JobName { get; set; }

        [ConfigKey("signal_seconds", "Seconds before the time limit at which rank 0 is told to checkpoint (default 120).")]
        public int? SignalSeconds { get; set; }

        [ConfigKey("extra_sbatch_lines", "More #SBATCH lines, written as given (e.g. --qos=high).")]
        public List<string> ExtraSbatchLines { get; set; } = new List<string>();
    }
}
