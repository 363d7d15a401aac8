using System;
using System.Linq;
using XTuner.Core.Configuration;

namespace XTuner.Core.Planning
{
    /// <summary>Which layers recompute in backward: the first <see cref="Layers"/>, and of those the first <see cref="AttentionLayers"/> rerun attention too.</summary>
    public readonly record struct RecomputeChoice(int Layers, int AttentionLayers)
    {
        /// <summary>Recomputed layers that keep attention from the forward (its output, with its inputs where the graph is kept) instead of rerunning it.</summary>
        public int AttentionKeptLayers => Layers - AttentionLayers;

        /// <summary>
        /// What <paramref name="config"/> asks for of its <paramref name="layers"/> when nothing is chosen: auto as every
        /// layer, and recompute_attention auto as every recomputed layer rerunning attention.
        /// </summary>
        public static RecomputeChoice Given(XTunerConfig config, int layers)
        {
            int recomputed = config.ActivationCheckpointing.Of(layers, auto: layers);
            return new RecomputeChoice(recomputed, config.RecomputeAttention.Of(recomputed, auto: recomputed));
        }
    }

    /// <summary>
    /// What <c>activation_checkpointing: auto</c> and <c>recompute_attention: auto</c> recompute: the split the planner
    /// predicts fastest among those whose peak stays within the GPU's free memory less the headroom, or within
    /// <c>gpu_memory_budget_gib</c> less the budget margin where that is less. A layer can skip its
    /// recompute (it keeps everything autograd saves for it in place of its checkpointed input), or recompute all but
    /// attention (it keeps attention's inputs and output: at long sequences attention is most of a recompute and the
    /// cheaper memory of the two). Uses the planner's model, so trainer and planner never disagree.
    /// </summary>
    public static class RecomputeBudget
    {
        /// <summary>
        /// The recompute of <paramref name="config"/> on <paramref name="worldSize"/> ranks with <paramref name="freeBytes"/>
        /// of GPU memory per rank for training: every layer when even full recompute does not fit, and under ZeRO-3
        /// (which gathers a layer's parameters again for its recompute) every layer, keeping attention where it fits.
        /// An explicit recompute_attention is kept as it is; beside an explicit activation_checkpointing, recompute_attention
        /// auto reruns attention in every recomputed layer (nothing is chosen).
        /// </summary>
        public static RecomputeChoice Choose(XTunerConfig config, int worldSize, double freeBytes, PlanAssumptions? assumptions = null)
        {
            PlanModel.RequireDimensions(config);
            var a = assumptions ?? PlanAssumptions.Default;
            int layers = config.Model.NumHiddenLayers!.Value;
            var given = RecomputeChoice.Given(config, layers);
            if (!config.ActivationCheckpointing.IsAuto) return given;
            bool autoAttention = config.RecomputeAttention.IsAuto;
            var hardware = new PlanHardware(freeBytes, null, a.GpusPerNode);
            // Every layer recomputed with attention (the base), none recomputed, and every layer recomputed but attention.
            var all = Plan(config, worldSize, layers, layers, hardware, a);
            var none = Plan(config, worldSize, 0, 0, hardware, a);
            var allButAttention = Plan(config, worldSize, layers, 0, hardware, a);
            // A layer that keeps its activations keeps its cast weights too (cast_weights_per_layer).
            double keptLayerBytes = SavedBytesPerLayer(all.Config, a) - (layers > all.OffloadedLayers ? CheckpointBytes(all.Config) : 0)
                                    + (all.Config.CastsWeightsPerLayer(worldSize) ? 2.0 * OffloadBytes.LayerParameters(all.Config.Model) : 0);
            // The first layer kept whole spares the working set its recompute (PlanModel.LayerWorkingSet).
            double firstKeptSpares = all.Memory.LayerWorkingSet - PlanModel.LayerWorkingSet(all.Config, all.Layout, a, keptWhole: 1);
            double keptAttentionBytes = AttentionBytesPerLayer(all.Config);
            double keptLayerSeconds = (all.StepTimeSeconds - none.StepTimeSeconds) / layers;
            double keptAttentionSeconds = (all.StepTimeSeconds - allButAttention.StepTimeSeconds) / layers;
            // gpu_memory_budget_gib caps the planned peak below what the GPU has free; the headroom is what the GPU must
            // keep free, the budget's margin what the prediction may miss by.
            double budget = freeBytes - a.HeadroomBytes;
            if (config.GpuMemoryBudgetGib is double gib) budget = Math.Min(budget, gib * PlanAssumptions.Gib - a.BudgetMarginBytes);
            double room = budget - all.Memory.PeakGpu;
            int lowest = config.ZeroStage != 3 ? 0 : layers;
            var best = given;
            double bestSaved = 0;
            for (int recomputed = layers; recomputed >= lowest; recomputed--)
            {
                int keptWhole = layers - recomputed;
                double left = room - (keptWhole == 0 ? 0 : Math.Max(0, keptWhole * keptLayerBytes - firstKeptSpares));
                if (left < 0) break;
                int attention = autoAttention
                    ? recomputed - (keptAttentionBytes <= 0 ? recomputed : (int)Math.Min(recomputed, Math.Floor(left / keptAttentionBytes)))
                    : config.RecomputeAttention.Of(recomputed, auto: recomputed);
                if (left - (recomputed - attention) * keptAttentionBytes < 0) continue;
                double saved = (layers - recomputed) * keptLayerSeconds + (recomputed - attention) * keptAttentionSeconds;
                // Strictly faster only: of equal predictions the one that keeps less.
                if (saved > bestSaved + 1e-9)
                {
                    best = new RecomputeChoice(recomputed, attention);
                    bestSaved = saved;
                }
            }
            return best;
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

        /// <summary>
        /// What a recomputed layer that keeps attention holds from its forward, for one micro-batch of this rank. Where
        /// the kernel keeps its output alone (<see cref="KeepsAttentionOutputOnly"/>): the output and attention's float32
        /// log-sum-exp per head and token. Otherwise the autograd graph's: the query, the keys and values as attention takes
        /// them (key/value heads repeated to the query heads), the output and the log-sum-exp. Not fitted: on the H200 the
        /// 1.1B shape's 22 layers kept 2.77 and 10.98 GiB more at 8k and 32k than rerunning attention with the graph,
        /// and this gives 2.78 and 11.09 (examples/benchmarks/results/h200-2026-12-03-kept-attention.jsonl).
        /// </summary>
        public static double AttentionBytesPerLayer(XTunerConfig config)
        {
            var spec = config.Model;
            double heads = spec.NumAttentionHeads!.Value, dim = spec.EffectiveHeadDim!.Value;
            double tokens = OffloadBytes.LocalTokens(config), element = config.DType == TrainingDType.BFloat16 ? 2 : 4;
            double tensors = KeepsAttentionOutputOnly(config) ? 1 : 4;
            return tokens * (element * dim * tensors * heads + 4 * heads);
        }

        /// <summary>
        /// Whether a layer that keeps attention keeps cuDNN's output and log-sum-exp alone: bf16 with the fused kernels on
        /// CUDA, one sequence-parallel rank, no sliding window, and every row one causal document (synthetic data of
        /// whole rows, or documents not isolated); packed documents and windows keep the graph.
        /// </summary>
        public static bool KeepsAttentionOutputOnly(XTunerConfig config)
        {
            var spec = config.Model;
            bool windowed = Enumerable.Range(0, spec.NumHiddenLayers ?? 0).Any(layer => spec.WindowOf(layer) is not null);
            bool oneDocumentPerRow = !config.IsolatesDocuments || (config.DatasetFormat == DatasetFormat.Synthetic && config.SyntheticDocumentLength == 0);
            return PlanModel.UsesFusedKernels(config) && config.DType == TrainingDType.BFloat16 && config.SequenceParallelSize == 1 && !windowed && oneDocumentPerRow;
        }

        private static XTunerPlan Plan(XTunerConfig config, int worldSize, int recomputed, int attention, PlanHardware hardware, PlanAssumptions a)
        {
            var layout = PlanLayout.Of(config, worldSize);
            layout.ActivationCheckpointing = LayerCount.Of(recomputed);
            if (recomputed == 0) layout.OffloadActivations = LayerCount.None;
            var explicitAttention = config.Clone();
            explicitAttention.RecomputeAttention = recomputed == 0 ? LayerCount.All : LayerCount.Of(attention);
            return PlanModel.Estimate(explicitAttention, layout, hardware, a);
        }

        private static double CheckpointBytes(XTunerConfig config) => OffloadBytes.LocalTokens(config) * config.Model.HiddenSize!.Value * 2.0;
    }
}
