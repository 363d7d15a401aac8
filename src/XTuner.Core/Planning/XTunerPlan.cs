using XTuner.Core.Configuration;

namespace XTuner.Core.Planning
{
    /// <summary>
    /// The planner's prediction for one layout of one config: peak GPU memory per rank, host memory per node, step
    /// time and throughput, and whether it fits. What <c>Get-XTunerPlan</c> returns and <c>xtuner plan</c> prints.
    /// </summary>
    public sealed class XTunerPlan
    {
        public XTunerPlan(XTunerConfig config, PlanLayout layout, MemoryEstimate memory, StepTimeEstimate time, PlanHardware hardware, PlanAssumptions assumptions)
        {
            Config = config;
            Layout = layout;
            Memory = memory;
            Time = time;
            Hardware = hardware;
            Assumptions = assumptions;
        }

        /// <summary>The config with this layout applied (sequence_parallel_size, zero_stage, offload, recompute, and the GPUs as nodes x gpus_per_node when they make whole nodes).</summary>
        public XTunerConfig Config { get; }

        public PlanLayout Layout { get; }

        public MemoryEstimate Memory { get; }

        public StepTimeEstimate Time { get; }

        public PlanHardware Hardware { get; }

        public PlanAssumptions Assumptions { get; }

        public string Name => Config.Name ?? Config.ModelName;

        public string ModelName => Config.ModelName;

        public int MaxLength => Config.MaxLength;

        public int Gpus => Layout.WorldSize;

        public int Nodes => (Gpus + Hardware.GpusPerNode - 1) / Hardware.GpusPerNode;

        public int SequenceParallelSize => Layout.SequenceParallelSize;

        public int DataParallelSize => Layout.DataParallelSize;

        public int ZeroStage => Layout.ZeroStage;

        public bool OffloadOptimizer => Layout.OffloadOptimizer;

        /// <summary>Layers whose checkpointed inputs live in host memory.</summary>
        public int OffloadedLayers => Memory.OffloadedLayers;

        public bool OffloadActivations => Memory.OffloadedLayers > 0;

        /// <summary>Layers recomputed in backward (the first ones; for activation_checkpointing auto, those the memory left cannot keep).</summary>
        public int RecomputedLayers => Memory.RecomputedLayers;

        public bool ActivationCheckpointing => RecomputedLayers > 0;

        /// <summary>Of the recomputed layers, those that rerun attention in backward (the others keep its inputs and output).</summary>
        public int AttentionRecomputedLayers => Memory.AttentionRecomputedLayers;

        public string MlpTiles => Layout.MlpTiles.ToString();

        public double PeakGpuMemoryGiB => Memory.PeakGpu / PlanAssumptions.Gib;

        public double GpuMemoryGiB => Hardware.GpuMemoryBytes / PlanAssumptions.Gib;

        public double HostMemoryPerNodeGiB => Memory.HostPerNode / PlanAssumptions.Gib;

        public double? HostMemoryGiB => Hardware.HostMemoryBytes is double h ? h / PlanAssumptions.Gib : (double?)null;

        /// <summary>The peak leaves headroom_gib of the GPU free.</summary>
        public bool FitsGpu => Memory.PeakGpu + Assumptions.HeadroomBytes <= Hardware.GpuMemoryBytes;

        /// <summary>The node's host memory holds what offload puts there (always, when no host size was given).</summary>
        public bool FitsHost => !(Hardware.HostMemoryBytes is double host) || Memory.HostPerNode <= host;

        public bool Fits => FitsGpu && FitsHost;

        public double StepTimeSeconds => Time.Total;

        /// <summary>Tokens each GPU processes per second (its chunk of every sequence), as the trainer counts them.</summary>
        public double TokensPerSecondPerGpu => Time.Total > 0 ? (double)OffloadBytes.LocalTokens(Config) * Config.AccumulativeCounts / Time.Total : 0;

        public double Mfu => Runs.TrainingFlops.Mfu(Config.Model, Config.MaxLength, TokensPerSecondPerGpu, Runs.TrainingFlops.DefaultPeakTflops * 1e12);

        /// <summary>The fastest layout that fits, of those the planner was asked about.</summary>
        public bool Recommended { get; set; }

        /// <summary>What does not fit, in words (empty when it fits).</summary>
        public string Limit =>
            Fits ? "" : !FitsGpu ? "GPU memory" : "host memory";

        public override string ToString() => $"{Name}: {Layout} on {Gpus} GPUs, {PeakGpuMemoryGiB:F1} GiB, {StepTimeSeconds:F2} s/step";
    }
}
