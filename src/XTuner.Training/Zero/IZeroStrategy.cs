using System;
using System.Collections.Generic;
using XTuner.Training.Models;
using static TorchSharp.torch;

namespace XTuner.Training.Zero
{
    /// <summary>
    /// Where a rank's gradients and parameters live between backward and the optimizer step (ZeRO's partitioning over
    /// the whole world): replicated (stage 0), optimizer states sharded (1), gradients too (2), parameters too (3). The
    /// one AdamW loop (<see cref="Optim.MixedPrecisionAdamW"/>) reads this rank's shard of each unit's reduced gradient
    /// from it and hands back the updated float32 master shard; where the optimizer states themselves live is
    /// <see cref="Optim.IOptimizerStates"/>'s business. Every rank calls every member in the same order, so the
    /// collectives inside line up.
    /// </summary>
    public interface IZeroStrategy : IDisposable
    {
        /// <summary>The ZeRO stage as configured (a sharding stage on one rank shards nothing, but keeps its number).</summary>
        int Stage { get; }

        /// <summary>The parameters grouped into units; each unit's shard is this rank's part of it.</summary>
        IReadOnlyList<ParameterUnit> Units { get; }

        /// <summary>Optimizer states are this rank's shard only: a checkpoint holds one file per rank.</summary>
        bool IsSharded { get; }

        /// <summary>The reduced gradients this rank holds are shards: the sum of their squares is summed over the world.</summary>
        bool GradientsSharded { get; }

        /// <summary>What the model must call around its layers (ZeRO-3); null below stage 3.</summary>
        ILayerParameterHooks? LayerHooks { get; }

        /// <summary>Before each micro-batch's forward.</summary>
        void BeginMicroBatch();

        /// <summary>Between two micro-batches of a step: moves this micro-batch's gradients on, so they add up in float32.</summary>
        void AccumulateMicroBatch();

        /// <summary>
        /// After the last micro-batch's backward, unit by unit: reduces unit <paramref name="u"/>'s gradient over the world
        /// and returns this rank's part of it whose squares add up to the gradient norm, in float32 or the model's dtype
        /// (a new tensor in the caller's dispose scope, or one the strategy owns).
        /// </summary>
        Tensor ReduceGradient(int u);

        /// <summary>
        /// This rank's shard of unit <paramref name="u"/>'s reduced gradient, [ShardLength], float32 or the model's dtype,
        /// after <see cref="ReduceGradient"/>.
        /// </summary>
        Tensor GradientShard(int u);

        /// <summary>Copies this rank's shard of unit <paramref name="u"/>'s parameter values into <paramref name="destination"/> [ShardLength].</summary>
        void ReadShard(int u, Tensor destination);

        /// <summary>
        /// Unit <paramref name="u"/>'s parameters take the values of <paramref name="master"/>, this rank's updated shard
        /// (any device; all-gathered where sharded), and its gradients are cleared.
        /// </summary>
        void WriteShard(int u, Tensor master);

        /// <summary>Makes every parameter whole (ZeRO-3) to export or inspect the model; collective. Pair with <see cref="ReleaseParameters"/>.</summary>
        void GatherParameters();

        void ReleaseParameters();

        /// <summary>
        /// Collective: the parameters to export, named in the model's order, produced tensor by tensor so the whole model
        /// in the compute dtype never sits on one device (ZeRO-3 gathers unit by unit to host memory; weights cast per
        /// layer are views of the float32 master). With <paramref name="keep"/> false (ranks other than 0) the list is
        /// empty. The tensors are the caller's to dispose.
        /// </summary>
        List<KeyValuePair<string, Tensor>> FinalParameters(bool keep);
    }
}
