using System.Collections.Generic;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;

namespace XTuner.Core.Slurm
{
    /// <summary>
    /// A SLURM launch decided before anything is written or submitted: the prepared config, the sbatch directives, the
    /// ranks' environment and the srun step, and the script they make (what <c>-WhatIf</c> prints and
    /// <see cref="SlurmLauncher.Submit"/> writes to <see cref="ScriptPath"/>).
    /// </summary>
    public sealed class SlurmPlan
    {
        /// <summary>The config the ranks read: overrides applied, paths absolute, validated.</summary>
        public XTunerConfig Config { get; set; } = new XTunerConfig();

        /// <summary>The config's warnings (sound but unwise settings), for the caller to show before submitting.</summary>
        public IReadOnlyList<ConfigFinding> Warnings { get; set; } = new List<ConfigFinding>();

        public string WorkDir { get; set; } = "";

        /// <summary><c>work_dir/config.yaml</c>.</summary>
        public string ConfigPath { get; set; } = "";

        /// <summary><c>work_dir/submit.sbatch</c>.</summary>
        public string ScriptPath { get; set; } = "";

        public WorkerCommand Worker { get; set; } = new WorkerCommand("xtuner", new string[0]);

        public int Nodes { get; set; }

        /// <summary>srun tasks per node: one per GPU on CUDA, the CPU processes on CPU.</summary>
        public int RanksPerNode { get; set; }

        public int Ranks => Nodes * RanksPerNode;

        public string JobName { get; set; } = "";

        /// <summary>sbatch options as option and value (null for a flag), in the order the script writes them.</summary>
        public List<KeyValuePair<string, string?>> Directives { get; set; } = new List<KeyValuePair<string, string?>>();

        /// <summary>The config's <c>slurm.extra_sbatch_lines</c>, each written after <c>#SBATCH </c> as given.</summary>
        public List<string> ExtraDirectives { get; set; } = new List<string>();

        /// <summary>Variables the script exports for the ranks (NCCL defaults, libtorch location).</summary>
        public Dictionary<string, string> Environment { get; set; } = new Dictionary<string, string>();

        /// <summary>On CPU the script sets OMP_NUM_THREADS to the node's CPUs shared among its ranks.</summary>
        public bool SetsCpuThreads { get; set; }

        /// <summary>Resume from the latest checkpoint in the work dir even on the first start.</summary>
        public bool Resume { get; set; }

        /// <summary>A checkpoint to start from, until the job has written checkpoints of its own.</summary>
        public string? ResumeFrom { get; set; }

        /// <summary>
        /// SLURM_JOB_ID when planned inside an allocation: the step then runs there with srun (no sbatch). Null
        /// outside one.
        /// </summary>
        public string? AllocationJobId { get; set; }

        /// <summary>Whether <see cref="SlurmLauncher.Submit"/> runs the step in <see cref="AllocationJobId"/> rather than submitting.</summary>
        public bool InAllocation => !string.IsNullOrWhiteSpace(AllocationJobId);

        /// <summary>The sbatch script (bash); rendered from the properties above by <see cref="SbatchScript.Render"/>.</summary>
        public string Script { get; set; } = "";

        public override string ToString() => Script;
    }
}
