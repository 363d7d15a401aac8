using System.Collections.Generic;

namespace XTuner.Core.Planning
{
    /// <summary>A plan as one JSON line of <c>xtuner plan --json</c>: config key names, sizes in GiB, times in seconds.</summary>
    public static class PlanJson
    {
        public static IDictionary<string, object?> Of(XTunerPlan p) => new Dictionary<string, object?>
        {
            ["config"] = p.Name,
            ["model"] = p.ModelName,
            ["max_length"] = p.MaxLength,
            ["gpus"] = p.Gpus,
            ["nodes"] = p.Nodes,
            ["sequence_parallel_size"] = p.SequenceParallelSize,
            ["data_parallel_size"] = p.DataParallelSize,
            ["zero_stage"] = p.ZeroStage,
            ["offload_optimizer"] = p.OffloadOptimizer,
            ["offload_activations"] = p.OffloadActivations,
            ["offloaded_layers"] = p.OffloadedLayers,
            ["activation_checkpointing"] = p.ActivationCheckpointing,
            ["recomputed_layers"] = p.RecomputedLayers,
            ["attention_recomputed_layers"] = p.AttentionRecomputedLayers,
            ["mlp_tiles"] = p.MlpTiles,
            ["fits"] = p.Fits,
            ["recommended"] = p.Recommended,
            ["limit"] = p.Limit.Length > 0 ? p.Limit : null,
            ["peak_gpu_memory_gib"] = Round(p.PeakGpuMemoryGiB),
            ["gpu_memory_gib"] = Round(p.GpuMemoryGiB),
            ["host_memory_per_node_gib"] = Round(p.HostMemoryPerNodeGiB),
            ["step_time_s"] = Round(p.StepTimeSeconds),
            ["tokens_per_sec_per_gpu"] = Round(p.TokensPerSecondPerGpu),
            ["mfu"] = Round(p.Mfu),
        };

        private static double Round(double value) => System.Math.Round(value, 4);
    }
}
