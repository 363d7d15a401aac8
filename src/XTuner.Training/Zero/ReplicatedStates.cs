using XTuner.Training.Distributed;
using XTuner.Training.Models;
using static TorchSharp.torch;

namespace XTuner.Training.Zero
{
    /// <summary>
    /// ZeRO-0 (and stages 1-2 on a single rank): gradients are all-reduced whole and every rank keeps the whole
    /// optimizer state. Between the norm and the update the reduced gradient waits in <c>.grad</c> (the model's dtype),
    /// so no float32 copy of all gradients ever exists; micro-batches of a low-precision model add up in float32
    /// accumulators. On one rank without accumulation the norm and the update read <c>.grad</c> where backward left it.
    /// </summary>
    public class ReplicatedStates : WholeParameters
    {
        private readonly Tensor?[] _accumulated;

        public ReplicatedStates(DecoderModel model, IProcessGroup world, int stage, int accumulationSteps)
            : base(model, world, stage, shards: 1)
        {
            _accumulated = WholeAccumulators(accumulationSteps);
        }

        public override bool IsSharded => false;

        public override bool GradientsSharded => false;

        public override void AccumulateMicroBatch() => AccumulateWhole(_accumulated);

        public override Tensor ReduceGradient(int u)
        {
            // One rank with nothing accumulated: .grad already holds the reduced gradient; nothing is copied.
            if (World.Size == 1 && _accumulated[u] is null) return GradientBuffer(u);
            var flat = AllReducedWhole(u, _accumulated);
            using (no_grad()) GradientBuffer(u).copy_(flat);
            return flat;
        }

        // The whole unit is this rank's shard; the reduced values wait in .grad (the buffer its views share).
        public override Tensor GradientShard(int u) => GradientBuffer(u);

        public override void WriteShard(int u, Tensor master)
        {
            CopyIntoParameters(u, master);
            ClearGradients(u);
        }

        public override void Dispose()
        {
            foreach (var t in _accumulated) t?.Dispose();
            base.Dispose();
        }
    }
}
