using System;
using XTuner.Training.Distributed;
using XTuner.Training.Models;

namespace XTuner.Training.Zero
{
    /// <summary>Chooses the ZeRO strategy for a stage and a world.</summary>
    public static class ZeroStrategies
    {
        /// <summary>
        /// The strategy of <paramref name="stage"/> over <paramref name="world"/>. Stage 3 is the
        /// <paramref name="parameterShards"/> the model was built through (<see cref="ShardedParameters.Lay"/>);
        /// stages 1 and 2 on one rank have nothing to shard and replicate. With <paramref name="castWeights"/> the replicated
        /// states cast each unit's parameters from the master as they are used (<see cref="CastParameters"/>, bound to the
        /// states once they exist); refused where the master is sharded.
        /// </summary>
        public static IZeroStrategy Create(int stage, DecoderModel model, IProcessGroup world, int accumulationSteps,
            ShardedParameters? parameterShards = null, bool castWeights = false)
        {
            if (stage < 0 || stage > 3)
                throw new ArgumentOutOfRangeException(nameof(stage), stage, "ZeRO stages are 0 to 3.");
            if ((stage == 3) != (parameterShards != null))
                throw new ArgumentException("ZeRO-3 needs the parameter shards the model was built through, and only ZeRO-3 has them.", nameof(parameterShards));
            if (parameterShards != null) return parameterShards;
            bool replicated = stage == 0 || world.Size == 1;
            if (castWeights && !replicated)
                throw new ArgumentException($"Casting the weights from the master needs it whole on every rank; zero_stage {stage} over {world.Size} ranks shards it.", nameof(castWeights));
            if (replicated)
                return castWeights ? new CastParameters(model, world, stage, accumulationSteps) : new ReplicatedStates(model, world, stage, accumulationSteps);
            return stage == 1 ? new ShardedStates(model, world, accumulationSteps) : new ShardedGradients(model, world, accumulationSteps);
        }
    }
}
