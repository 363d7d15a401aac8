using System;
using XTuner.Core.Configuration;

namespace XTuner.Core.Planning
{
    /// <summary>
    /// How many layers can keep their activations instead of recomputing them in backward, for a later
    /// <c>activation_checkpointing: auto</c>: a layer that skips recompute keeps everything autograd saves for it in
    /// place of its checkpointed input, and as many such layers are allowed as the memory left beside the fully
    /// recomputed layout holds (less the headroom), in the GPU's free memory or <c>gpu_memory_budget_gib</c> where that is
    /// less. Uses the planner's model, so the two never disagree.
    /// </summary>
    public static class RecomputeBudget
    {
        /// <summary>
        /// Layers of <paramref name="config"/> that may skip recompute on <paramref name="worldSize"/> ranks with
        /// <paramref name="freeBytes"/> of GPU memory per rank for training (0 when even full recompute does not fit).
        /// </summary>
        public static int LayersWithoutRecompute(XTunerConfig config, int worldSize, double freeBytes, PlanAssumptions? assumptions = null)
        {
            PlanModel.RequireDimensions(config);
            var a = assumptions ?? PlanAssumptions.Default;
            var layout = PlanLayout.Of(config, worldSize);
            layout.ActivationCheckpointing = LayerCount.All;
            var plan = PlanModel.Estimate(config, layout, new PlanHardware(freeBytes, null, a.GpusPerNode), a);
            int layers = config.Model.NumHiddenLayers!.Value;
            double extra = SavedBytesPerLayer(plan.Config, a) - (layers > plan.OffloadedLayers ? CheckpointBytes(plan.Config) : 0);
            // gpu_memory_budget_gib caps the planned peak below what the GPU has free.
            double budget = config.GpuMemoryBudgetGib is double gib ? Math.Min(freeBytes, gib * PlanAssumptions.Gib) : freeBytes;
            double room = budget - a.HeadroomBytes - plan.Memory.PeakGpu;
            if (room <= 0) return 0;
            if (extra <= 0) return layers;
            return (int)Math.Min(layers, Math.Floor(room / extra));
        }

        /// <summary>
        /// What autograd keeps for one layer that is not recomputed, for one micro-batch of this rank: less with the fused
        /// kernels (<see cref="PlanModel.UsesFusedKernels"/>), whose norms and SwiGLU keep fewer tensors.
        /// </summary>
        public static double SavedBytesPerLayer(XTunerConfig config, PlanAssumptions a)
        {
            bool fused = PlanModel.UsesFusedKernels(config);
            return OffloadBytes.LocalTokens(config) * 2 *
                   ((fused ? a.FusedSavedActivationsHidden : a.SavedActivationsHidden) * config.Model.HiddenSize!.Value +
                    (fused ? a.FusedSavedActivationsMlp : a.SavedActivationsMlp) * config.Model.IntermediateSize!.Value);
        }

        private static double CheckpointBytes(XTunerConfig config) => OffloadBytes.LocalTokens(config) * config.Model.HiddenSize!.Value * 2.0;
    }
}
