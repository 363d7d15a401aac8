using XTuner.Training.Distributed;
using XTuner.Training.Models;
using static TorchSharp.torch;

namespace XTuner.Training.Zero
{
    /// <summary>
    /// ZeRO-1: gradients are all-reduced whole, each rank keeps only its shard of the float32 master weights and
    /// moments (and reads its shard of the reduced gradient, in float32), and the updated weights are all-gathered.
    /// </summary>
    public class ShardedStates : WholeParameters
    {
        private readonly Tensor?[] _accumulated;
        private readonly Tensor?[] _shardGradient;

        public ShardedStates(DecoderModel model, IProcessGroup world, int accumulationSteps)
            : this(model, world, stage: 1, accumulationSteps, accumulateWhole: true)
        {
        }

        /// <remarks>ZeRO-2 accumulates gradient shards of its own instead of whole gradients.</remarks>
        protected ShardedStates(DecoderModel model, IProcessGroup world, int stage, int accumulationSteps, bool accumulateWhole)
            : base(model, world, stage, shards: world.Size)
        {
            _accumulated = accumulateWhole ? WholeAccumulators(accumulationSteps) : new Tensor?[Units.Count];
            _shardGradient = new Tensor?[Units.Count];
        }

        public override bool IsSharded => true;

        public override bool GradientsSharded => false;

        public override void AccumulateMicroBatch() => AccumulateWhole(_accumulated);

        public override Tensor ReduceGradient(int u)
        {
            var flat = AllReducedWhole(u, _accumulated);
            // The update reads this rank's shard of the float32 sum, as ZeRO-2 and 3 do.
            Keep(u, flat.narrow(0, Units[u].ShardOffset, Units[u].ShardLength).clone());
            return flat;
        }

        public override Tensor GradientShard(int u) => _shardGradient[u]!;

        public override void WriteShard(int u, Tensor master)
        {
            var unit = Units[u];
            var first = unit.Slots[0].Parameter!;
            using (NewDisposeScope())
            {
                var whole = empty(unit.PaddedNumel, first.dtype, first.device);
                World.AllGather(whole, master.to(first.device).to(first.dtype));
                CopyIntoParameters(u, whole);
            }
            ClearGradients(u);
            _shardGradient[u]?.Dispose();
            _shardGradient[u] = null;
        }

        /// <summary>Keeps this rank's float32 shard of unit <paramref name="u"/>'s reduced gradient until its update.</summary>
        protected void Keep(int u, Tensor shard)
        {
            _shardGradient[u]?.Dispose();
            _shardGradient[u] = shard.DetachFromDisposeScope();
        }

        /// <summary>This rank's shard of a whole unit's gradient summed over the world.</summary>
        protected Tensor ReduceScatter(int u, Tensor flat)
        {
            var shard = empty(Units[u].ShardLength, ScalarType.Float32, flat.device);
            World.ReduceScatter(shard, flat);
            return shard;
        }

        public override void Dispose()
        {
            foreach (var t in _accumulated) t?.Dispose();
            foreach (var t in _shardGradient) t?.Dispose();
            base.Dispose();
        }
    }
}
