using System.Collections.Generic;
using XTuner.Core.Configuration;

namespace XTuner.Core.Planning
{
    /// <summary>What to plan: a config (overrides applied), the GPUs and memory to plan for, and the choices pinned.</summary>
    public sealed class PlanRequest
    {
        public PlanRequest(XTunerConfig config)
        {
            Config = config;
        }

        public XTunerConfig Config { get; }

        /// <summary>GPUs in all (default: the config's nodes x gpus_per_node).</summary>
        public int? Gpus { get; set; }

        public double GpuMemoryBytes { get; set; } = PlanHardware.DefaultGpuMemoryGiB * PlanAssumptions.Gib;

        /// <summary>Host memory per node; null: not checked (offload_activations auto then offloads nothing).</summary>
        public double? HostMemoryBytes { get; set; }

        /// <summary>Tokens per sequence (default: the config's max_length).</summary>
        public int? MaxLength { get; set; }

        /// <summary>Layout keys (<see cref="Planner.PinnableKeys"/>) whose config value every layout keeps.</summary>
        public ISet<string> Pinned { get; } = new HashSet<string>();

        public PlanAssumptions Assumptions { get; set; } = PlanAssumptions.Default;
    }
}
