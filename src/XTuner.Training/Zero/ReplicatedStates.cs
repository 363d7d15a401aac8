using XTuner.Training.Distributed;
using XTuner.Training.Models;
using static TorchSharp.torch;

namespace XTuner.Training.Zero
{
    /// <summary>
    /// ZeRO-0 (and stages 1-2 on a single rank): gradients are all-reduced whole and every rank keeps the whole
    /// optimizer state. Between the norm and the update the reduced gradient waits in <c>.grad</c> (the model's dtype),
    /// so no float32 copy of all gradients ever exists; micro-batches of a low-precision model add up in float32
    /// accumulators.
    /// </summary>
    public sealed class ReplicatedStates : WholeParameters
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
            var flat = AllReducedWhole(u, _accumulated);
            using (no_grad())
                foreach (var slot in Units[u].Slots)
                    slot.Parameter!.grad?.copy_(flat.narrow(0, slot.Offset, slot.Numel).view(slot.Shape));
            return flat;
        }

        // The whole unit is this rank's shard; the reduced values wait in .grad.
        public override Tensor GradientShard(int u) => FlatGradient(u);

        public override void WriteShard(int u, Tensor master)
        {
            CopyIntoParameters(u, master);
            ClearGradients(u);
        }

        public override void Dispose()
        {
            foreach (var t in _accumulated) t?.Dispose();
        }
    }
}
