using System;
using XTuner.Core.Configuration;

namespace XTuner.Core.Planning
{
    /// <summary>
    /// The bytes offload moves into a rank's host memory, for the trainer's host budget (which checks them against the
    /// machine before anything is allocated) and for the planner (which adds them up per node before GPUs are rented).
    /// </summary>
    public static class OffloadBytes
    {
        /// <summary>Host bytes a rank's optimizer offload holds: float32 master, two moments and a staging buffer.</summary>
        public static long Optimizer(ModelSpec spec, int shards) =>
            (long)Math.Ceiling((spec.ParameterCount ?? 0) / (double)shards) * 4 * 3 + LargestUnitShard(spec, shards) * 4;

        /// <summary>Bytes one layer's checkpointed input takes for one micro-batch of this rank.</summary>
        public static long ActivationsPerLayer(XTunerConfig config, ModelSpec spec, int elementSize) =>
            LocalTokens(config) * (spec.HiddenSize ?? 0) * elementSize;

        /// <summary>Tokens one rank holds of a micro-batch: the batch times its chunk of the (padded) sequence.</summary>
        public static long LocalTokens(XTunerConfig config) =>
            (long)config.BatchSize * ((config.MaxLength + config.SequenceParallelSize - 1) / config.SequenceParallelSize);

        /// <summary>Parameters of one decoder layer: the model less its embeddings, over the layers.</summary>
        public static long LayerParameters(ModelSpec spec)
        {
            long layers = Math.Max(1, spec.NumHiddenLayers ?? 1);
            return ((spec.ParameterCount ?? 0) - EmbeddingParameters(spec) * (spec.TiesWordEmbeddings ? 1 : 2)) / layers;
        }

        /// <summary>Parameters of the embedding matrix (vocab x hidden).</summary>
        public static long EmbeddingParameters(ModelSpec spec) => (long)(spec.VocabSize ?? 0) * (spec.HiddenSize ?? 0);

        /// <summary>Elements of the largest unit ZeRO shards and gathers at once (a layer, or the embedding), over the shards.</summary>
        public static long LargestUnitShard(ModelSpec spec, int shards) =>
            (long)Math.Ceiling(Math.Max(LayerParameters(spec), EmbeddingParameters(spec)) / (double)Math.Max(1, shards));
    }
}
