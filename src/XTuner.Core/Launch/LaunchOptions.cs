using System.Collections.Generic;
using XTuner.Core.Configuration;

namespace XTuner.Core.Launch
{
    /// <summary>What a user may override when starting a run (Start-XTunerTraining parameters, xtuner train options).</summary>
    public sealed class LaunchOptions
    {
        /// <summary>Where relative paths in an in-memory config resolve (the PowerShell location, or the CLI's cwd).</summary>
        public string BaseDirectory { get; set; } = System.IO.Directory.GetCurrentDirectory();

        public string? WorkDir { get; set; }

        public DeviceKind? Device { get; set; }

        /// <summary>Ranks on this node (GPUs, or CPU processes).</summary>
        public int? GpusPerNode { get; set; }

        public int? SequenceParallelSize { get; set; }

        public int? MaxSteps { get; set; }

        /// <summary>key=value overrides applied after everything else (--cfg-options).</summary>
        public List<string> ConfigOptions { get; set; } = new List<string>();

        /// <summary>Continue from the latest checkpoint in the work dir (or <see cref="ResumeFrom"/>).</summary>
        public bool Resume { get; set; }

        public string? ResumeFrom { get; set; }

        /// <summary>Ask rank 0 for structured events (progress bars).</summary>
        public bool Events { get; set; }

        /// <summary>Nodes in the run (NNODES); set for a run of one launcher per node, without SLURM.</summary>
        public int? Nodes { get; set; }

        /// <summary>This machine's index among <see cref="Nodes"/> (NODE_RANK).</summary>
        public int NodeRank { get; set; }

        /// <summary>Where rank 0 hosts the rendezvous store (ADDR); default loopback.</summary>
        public string? MasterAddress { get; set; }

        /// <summary>0 picks a free port.</summary>
        public int MasterPort { get; set; }

        public WorkerCommand? Worker { get; set; }
    }
}
