using System.Linq;
using XTuner.Training.Distributed;
using XTuner.Training.Models;
using static TorchSharp.torch;

namespace XTuner.Training.Zero
{
    /// <summary>
    /// ZeRO-2: as ZeRO-1, but gradients are reduce-scattered, so each rank only ever holds its float32 shard of the
    /// reduced gradient; with accumulation every micro-batch is reduce-scattered into a float32 shard accumulator.
    /// </summary>
    public sealed class ShardedGradients : ShardedStates
    {
        private readonly Tensor?[] _accumulated;

        public ShardedGradients(DecoderModel model, IProcessGroup world, int accumulationSteps)
            : base(model, world, stage: 2, accumulationSteps, accumulateWhole: false)
        {
            _accumulated = Units.Select(u => accumulationSteps > 1
                ? zeros(u.ShardLength, ScalarType.Float32, u.Slots[0].Parameter!.device) : null).ToArray();
        }

        public override bool GradientsSharded => true;

        public override void AccumulateMicroBatch()
        {
            using var noGrad = no_grad();
            for (int u = 0; u < Units.Count; u++)
            {
                if (_accumulated[u] is not Tensor acc) continue;
                using var scope = NewDisposeScope();
                acc.add_(ReduceScatter(u, FlatGradient(u)));
                ClearGradients(u);
            }
        }

        public override Tensor ReduceGradient(int u)
        {
            var shard = ReduceScatter(u, FlatGradient(u));
            if (_accumulated[u] is Tensor acc)
            {
                shard.add_(acc);
                acc.zero_();
            }
            Keep(u, shard);
            return shard;
        }

        public override void Dispose()
        {
            base.Dispose();
            foreach (var t in _accumulated) t?.Dispose();
        }
    }
}
