using System;
using System.Linq;
using XTuner.Core.Configuration;

namespace XTuner.Core.Planning
{
    /// <summary>
    /// The planner's arithmetic: what a layout of a config holds in GPU and host memory and how long its step takes,
    /// from the model's dimensions and the named <see cref="PlanAssumptions"/>. The memory follows what the trainer
    /// keeps (bf16 weights and .grad, float32 master and moments, float32 ZeRO shards and accumulators, one checkpoint
    /// per layer, one layer's recompute at a time); the time is FLOPs over the measured kernel rates plus traffic over
    /// the links, nothing overlapped (collectives run on the compute stream, offload copies are not overlapped).
    /// </summary>
    public static class PlanModel
    {
        private const double MlpTileBytes = 1L << 30;

        /// <summary>The prediction for <paramref name="layout"/> of <paramref name="config"/>.</summary>
        public static XTunerPlan Estimate(XTunerConfig config, PlanLayout layout, PlanHardware hardware, PlanAssumptions assumptions)
        {
            var spec = config.Model;
            RequireDimensions(config);
            var planned = layout.ApplyTo(config);
            // The plan's config trains on the plan's GPUs (when they make whole nodes), so that it can go on to training.
            if (layout.WorldSize <= hardware.GpusPerNode || layout.WorldSize % hardware.GpusPerNode == 0)
            {
                planned.GpusPerNode = Math.Min(layout.WorldSize, hardware.GpusPerNode);
                planned.Nodes = layout.WorldSize / planned.GpusPerNode;
            }
            int ranksPerNode = Math.Min(layout.WorldSize, hardware.GpusPerNode);
            var recompute = Recompute(planned, layout, hardware, assumptions);
            var memory = Memory(planned, layout, hardware, assumptions, ranksPerNode, recompute);
            var time = StepTime(planned, layout, memory.OffloadedLayers, hardware, assumptions, ranksPerNode, recompute);
            return new XTunerPlan(planned, layout, memory, time, hardware, assumptions);
        }

        /// <summary>
        /// The layers recomputed and, of those, the layers that rerun attention, as the trainer resolves them: auto through
        /// <see cref="RecomputeBudget"/> (given the memory free once the CUDA context is made, as the trainer reads it),
        /// recompute_attention auto beside an explicit activation_checkpointing as every recomputed layer.
        /// </summary>
        private static RecomputeChoice Recompute(XTunerConfig planned, PlanLayout layout, PlanHardware hardware, PlanAssumptions a)
        {
            // The planned config carries the layout's activation_checkpointing (PlanLayout.ApplyTo).
            return layout.ActivationCheckpointing.IsAuto
                ? RecomputeBudget.Choose(planned, layout.WorldSize, hardware.GpuMemoryBytes - a.ContextBytes, a)
                : RecomputeChoice.Given(planned, planned.Model.NumHiddenLayers!.Value);
        }

        /// <summary>
        /// Whether <paramref name="config"/> trains with the fused kernels: fused_kernels auto or true on CUDA (auto takes a
        /// GPU machine to have NVRTC, as PyTorch's CUDA wheels bring it; the trainer asks with what it found).
        /// </summary>
        public static bool UsesFusedKernels(XTunerConfig config) => config.FusedKernels != FusedKernelsMode.Off && config.Device == DeviceKind.Cuda;

        /// <summary>Refuses a config whose model has no dimensions to plan with (<see cref="ErrorIds.PlanNeedsModel"/>).</summary>
        public static void RequireDimensions(XTunerConfig config)
        {
            if (config.Model.ParameterCount == null)
                throw new XTunerException(ErrorIds.PlanNeedsModel,
                    $"'{config.Name ?? config.ModelName}' has no model dimensions to plan with: give its model section (hidden_size, intermediate_size, " +
                    "num_hidden_layers, num_attention_heads, vocab_size), e.g. start from a catalogue config of the same model (xtuner list-cfg).");
        }

        private static MemoryEstimate Memory(XTunerConfig config, PlanLayout layout, PlanHardware hardware, PlanAssumptions a, int ranksPerNode, RecomputeChoice recompute)
        {
            int recomputed = recompute.Layers;
            var spec = config.Model;
            double p = spec.ParameterCount!.Value, h = spec.HiddenSize!.Value, inter = spec.IntermediateSize!.Value;
            int layers = spec.NumHiddenLayers!.Value, w = layout.WorldSize, accum = config.AccumulativeCounts;
            double tokens = OffloadBytes.LocalTokens(config);
            double unit = OffloadBytes.LargestUnitShard(spec, 1);
            // ZeRO 1 and 2 on one rank keep whole states, as ZeRO-0 does.
            int stage = w == 1 && layout.ZeroStage < 3 ? 0 : layout.ZeroStage;
            int optimizerShards = stage >= 1 ? w : 1;
            double checkpointPerLayer = tokens * h * 2;
            int offloaded = OffloadedLayers(config, layout, hardware, a, ranksPerNode, optimizerShards, checkpointPerLayer, recomputed);
            var m = new MemoryEstimate
            {
                OffloadedLayers = offloaded, RecomputedLayers = recomputed, AttentionRecomputedLayers = recompute.AttentionLayers, Context = a.ContextBytes,
            };
            // cast_weights_per_layer: a recomputed layer's weights exist only while it runs (one layer at a time); the
            // others, and the embeddings, norm and head, from first use to the optimizer step.
            double castAway = config.CastsWeightsPerLayer(w) ? Math.Max(0, recomputed - 1) * OffloadBytes.LayerParameters(spec) : 0;
            m.Parameters = stage == 3 ? 2 * p / w + 2 * unit : 2 * (p - castAway);
            m.Gradients = stage switch
            {
                0 => 2 * p + (accum > 1 ? 4 * p : 0),
                1 => 2 * p + 4 * p / w + (accum > 1 ? 4 * p : 0),
                2 => 2 * p + 4 * p / w * (accum > 1 ? 2 : 1),
                _ => 2 * unit + 4 * unit + 4 * p / w,
            };
            m.OptimizerStates = layout.OffloadOptimizer ? 0 : 12 * p / optimizerShards;
            // Recomputed layers keep their input (on the device unless offloaded), and those that do not rerun attention
            // its inputs and output; the others all that autograd saves.
            m.Activations = (recomputed > 0 ? (recomputed - offloaded) * checkpointPerLayer + (offloaded > 0 ? 2 * checkpointPerLayer : 0) : 0)
                            + recompute.AttentionKeptLayers * RecomputeBudget.AttentionBytesPerLayer(config)
                            + (layers - recomputed) * RecomputeBudget.SavedBytesPerLayer(config, a);
            m.LayerWorkingSet = LayerWorkingSet(config, layout, a, keptWhole: layers - recomputed);
            m.Workspaces = LossWorkspace(config, a) + (layout.SequenceParallelSize > 1 ? AllToAllBytesPerPass(config, layout) * a.AllToAllCopies : 0);
            m.CommunicationBuffers = w > 1 && stage < 3 ? 4 * unit : 0;
            m.HostPerNode = ranksPerNode * (a.HostProcessBytes + (layout.OffloadOptimizer ? OffloadBytes.Optimizer(spec, optimizerShards) : 0) +
                                            offloaded * checkpointPerLayer);
            return m;
        }

        private static StepTimeEstimate StepTime(XTunerConfig config, PlanLayout layout, int offloaded, PlanHardware hardware, PlanAssumptions a, int ranksPerNode,
            RecomputeChoice recompute)
        {
            int recomputed = recompute.Layers;
            var spec = config.Model;
            double p = spec.ParameterCount!.Value, h = spec.HiddenSize!.Value, inter = spec.IntermediateSize!.Value;
            double layers = spec.NumHiddenLayers!.Value, seq = config.MaxLength, batch = config.BatchSize;
            int sp = layout.SequenceParallelSize, w = layout.WorldSize, accum = config.AccumulativeCounts;
            int stage = w == 1 && layout.ZeroStage < 3 ? 0 : layout.ZeroStage;
            // The share of layers recomputed: each repeats its forward (matmuls, attention, the SP exchanges, ZeRO-3's gather).
            double r = recomputed / layers;
            // The share that reruns attention (and its SP exchanges): a recomputed layer that keeps attention does not.
            double ra = recompute.AttentionLayers / layers;
            double tokens = OffloadBytes.LocalTokens(config);
            // The embedding lookup is no matmul; an untied lm_head is.
            double matmulParameters = p - (spec.TiesWordEmbeddings ? 0 : OffloadBytes.EmbeddingParameters(spec));
            int headDim = spec.EffectiveHeadDim!.Value, heads = spec.NumAttentionHeads!.Value;
            double localHeads = Math.Ceiling(heads / (double)sp);
            // Causal attention forward is 2 L (heads x head_dim) S^2 FLOPs; backward 2.5 times that; recompute repeats the forward.
            // A sliding window W < S runs in dense masked blocks of W queries against 2W - 1 keys: 4 (heads x head_dim)
            // (2 W S - W^2) FLOPs forward, at windowed_attention_efficiency of the flash rate.
            double attentionFlops = (7 + 2 * ra) * localHeads * headDim * batch * Enumerable.Range(0, (int)layers).Sum(l =>
                spec.WindowOf(l) is int window && window < seq ? (4 * window * seq - 2.0 * window * window) / a.WindowedAttentionEfficiency : seq * seq);
            double attentionRate = a.AttentionFlops * Math.Min(1, Math.Pow(headDim / 128.0, a.AttentionHeadDimExponent));
            bool fused = UsesFusedKernels(config);
            // A recompute repeats its layer's matmuls but the MLP's down projection, whose output only the backward reads.
            double recomputedParameters = recomputed * Math.Max(0, OffloadBytes.LayerParameters(spec) - h * inter);
            var t = new StepTimeEstimate
            {
                Matmuls = accum * (6 * matmulParameters + 2 * recomputedParameters) * tokens / a.MatmulFlops,
                Attention = accum * attentionFlops / attentionRate,
                Elementwise = accum * tokens * layers * (h + inter) * a.ElementwiseSeconds * (0.75 + 0.25 * r) * (fused ? a.FusedElementwiseFactor : 1),
            };
            if (sp > 1)
                t.AllToAll = accum * layers * (2 + ra) * AllToAllBytesPerPass(config, layout) * (sp - 1) / sp / LinkBandwidth(sp, hardware, a);
            double ring = (w - 1) / (double)w / LinkBandwidth(w, hardware, a);
            if (w > 1)
                t.ZeroTraffic = stage switch
                {
                    0 => 2 * 4 * p * ring,
                    1 => (2 * 4 * p + 2 * p) * ring,
                    2 => (accum * 4 * p + 2 * p) * ring,
                    _ => accum * (2 * p * (1 + r) + 4 * p) * ring,
                };
            double shard = p / (stage >= 1 ? w : 1);
            t.Optimizer = layout.OffloadOptimizer
                ? shard / (a.HostAdamWElementsPerSecond / ranksPerNode) + shard * 6 / a.PcieBytesPerSecond
                : shard * a.OptimizerSecondsPerParameter * (fused ? a.FusedOptimizerFactor : 1);
            t.ActivationOffload = accum * offloaded * tokens * h * 2 * 2 / a.PcieBytesPerSecond;
            return t;
        }

        /// <summary>
        /// What one layer's recompute and backward hold beside what is kept, MLP tiles included. With every layer
        /// recomputed, the top layer's backward holds its recompute (its saved tensors again) and the gradients. With
        /// <paramref name="keptWhole"/> layers kept whole (the last ones) the top one's backward recomputes nothing and the
        /// layers below recompute once the kept layers' tensors are freed, so the working set holds one layer's saved
        /// tensors less, down to what the loss's logits hold at the end of the forward, beside everything kept (adding it
        /// whole over-predicted by one layer's saved tensors: 4.1 GiB for the 7B at 32k with 2 layers kept, 2.2 GiB for the
        /// 1.1B with 6, while at 8k the logits make the peak; examples/benchmarks/results/h200-2026-12-04-kept-output.jsonl).
        /// </summary>
        internal static double LayerWorkingSet(XTunerConfig config, PlanLayout layout, PlanAssumptions a, int keptWhole)
        {
            var spec = config.Model;
            double h = spec.HiddenSize!.Value, inter = spec.IntermediateSize!.Value, tokens = OffloadBytes.LocalTokens(config);
            double recompute = tokens * (UsesFusedKernels(config) ? a.FusedLayerWorkingSetHidden : a.LayerWorkingSetHidden) * h * 2 +
                               tokens / MlpTiles(layout, tokens, inter) * a.LayerWorkingSetMlp * inter * 2;
            if (keptWhole == 0) return recompute;
            return recompute - Math.Min(RecomputeBudget.SavedBytesPerLayer(config, a), Math.Max(0, recompute - LossWorkspace(config, a)));
        }

        /// <summary>The chunked loss's logits alive at once (<see cref="LossChunks"/>), float32 copies with the unfused path.</summary>
        private static double LossWorkspace(XTunerConfig config, PlanAssumptions a)
        {
            double vocab = config.Model.VocabSize!.Value;
            double lossTokens = Math.Min(OffloadBytes.LocalTokens(config), LossChunks.Tokens((long)vocab));
            return lossTokens * vocab * 4 * (UsesFusedKernels(config) ? a.FusedLossLogitsCopies : a.LossLogitsCopies);
        }

        /// <summary>MLP tiles of <paramref name="tokens"/> tokens: the layout's count, or for auto the fewest that keep a tile under 1 GiB.</summary>
        internal static double MlpTiles(PlanLayout layout, double tokens, double intermediate) =>
            Math.Max(1, Math.Min(tokens, layout.MlpTiles.Count ?? Math.Ceiling(tokens * intermediate * 2 / MlpTileBytes)));

        // One all-to-all pass of a layer moves q, k, v (KV heads repeated to a multiple of SP) and the attention output.
        private static double AllToAllBytesPerPass(XTunerConfig config, PlanLayout layout)
        {
            var spec = config.Model;
            int sp = layout.SequenceParallelSize, heads = spec.NumAttentionHeads!.Value, kv = spec.NumKeyValueHeads ?? heads;
            double kvHeads = kv % sp == 0 ? kv : Math.Ceiling(kv / (double)sp) * sp;
            return OffloadBytes.LocalTokens(config) * (2.0 * heads + 2 * kvHeads) * spec.EffectiveHeadDim!.Value * 2;
        }

        private static double LinkBandwidth(int ranks, PlanHardware hardware, PlanAssumptions a) =>
            ranks <= hardware.GpusPerNode ? a.NvlinkBytesPerSecond : a.NetworkBytesPerSecond;

        private static int OffloadedLayers(XTunerConfig config, PlanLayout layout, PlanHardware hardware, PlanAssumptions a, int ranksPerNode,
            int optimizerShards, double checkpointPerLayer, int recomputed)
        {
            int layers = config.Model.NumHiddenLayers!.Value;
            if (recomputed == 0) return 0;
            int auto = 0;
            if (layout.OffloadActivations.IsAuto)
            {
                // As the trainer does: as many as a tenth less than the node's memory holds beside the optimizer states.
                double host = hardware.HostMemoryBytes ?? 0;
                double optimizer = layout.OffloadOptimizer ? OffloadBytes.Optimizer(config.Model, optimizerShards) : 0;
                double room = host * 0.9 / ranksPerNode - optimizer - a.HostProcessBytes;
                auto = room > 0 ? (int)Math.Min(layers, Math.Floor(room / checkpointPerLayer)) : 0;
            }
            return Math.Min(recomputed, layout.OffloadActivations.Of(layers, auto));
        }
    }
}
