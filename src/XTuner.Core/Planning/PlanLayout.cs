using XTuner.Core.Configuration;

namespace XTuner.Core.Planning
{
    /// <summary>
    /// One way to lay a config out over the GPUs: the sequence-parallel size (the data-parallel size follows from the
    /// world), the ZeRO stage, what is offloaded to host memory, recompute, and the MLP tiles.
    /// </summary>
    public sealed class PlanLayout
    {
        public int WorldSize { get; set; } = 1;

        public int SequenceParallelSize { get; set; } = 1;

        public int DataParallelSize => SequenceParallelSize > 0 ? WorldSize / SequenceParallelSize : 0;

        public int ZeroStage { get; set; }

        public bool OffloadOptimizer { get; set; }

        /// <summary>Layers whose checkpointed inputs live in host memory (offload_activations: true is every layer).</summary>
        public LayerCount OffloadActivations { get; set; }

        /// <summary>The layers (the first N) recomputed in backward: true every layer, false none.</summary>
        public LayerCount ActivationCheckpointing { get; set; } = LayerCount.All;

        public AutoCount MlpTiles { get; set; } = AutoCount.Auto;

        /// <summary>The layout a config asks for, on <paramref name="worldSize"/> GPUs.</summary>
        public static PlanLayout Of(XTunerConfig config, int worldSize) => new PlanLayout
        {
            WorldSize = worldSize,
            SequenceParallelSize = config.SequenceParallelSize,
            ZeroStage = config.ZeroStage,
            OffloadOptimizer = config.OffloadOptimizer,
            OffloadActivations = config.ActivationCheckpointing.IsAny ? config.OffloadActivations : LayerCount.None,
            ActivationCheckpointing = config.ActivationCheckpointing,
            MlpTiles = config.MlpTiles,
        };

        /// <summary>A copy of <paramref name="config"/> that trains this layout (nodes and gpus_per_node are left as they are).</summary>
        public XTunerConfig ApplyTo(XTunerConfig config)
        {
            var copy = config.Clone();
            copy.SequenceParallelSize = SequenceParallelSize;
            copy.ZeroStage = ZeroStage;
            copy.OffloadOptimizer = OffloadOptimizer;
            copy.OffloadActivations = OffloadActivations;
            copy.ActivationCheckpointing = ActivationCheckpointing;
            copy.MlpTiles = MlpTiles;
            return copy;
        }

        public override string ToString() =>
            $"SP {SequenceParallelSize} x DP {DataParallelSize}, ZeRO-{ZeroStage}" +
            (OffloadOptimizer ? ", offload_optimizer" : "") +
            (OffloadActivations.IsAny ? $", offload_activations {OffloadActivations}" : "") +
            (ActivationCheckpointing.IsAll || ActivationCheckpointing.IsAuto ? ", recompute" : ActivationCheckpointing.IsAny ? $", recompute {ActivationCheckpointing} layers" : ", no recompute");
    }
}
