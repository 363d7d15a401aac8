using System.Collections.Generic;
using System.Linq;
using XTuner.Training.Distributed;
using XTuner.Training.Models;
using XTuner.Training.Optim;
using static TorchSharp.torch;

namespace XTuner.Training.Zero
{
    /// <summary>
    /// Stages 0-2: every rank holds whole parameters and whole <c>.grad</c> tensors during the step; they differ in
    /// how gradients are reduced and how much of them, and of the optimizer states, a rank keeps.
    /// </summary>
    public abstract class WholeParameters : IZeroStrategy
    {
        private readonly List<ParameterUnit> _units;

        protected WholeParameters(DecoderModel model, IProcessGroup world, int stage, int shards)
        {
            World = world;
            Stage = stage;
            var named = model.named_parameters().ToList();
            _units = ParameterUnit.Partition(named.Select(p => (p.name, p.parameter.shape)), ParameterGroups.NoDecay,
                shards, shards > 1 ? world.Rank : 0);
            var byName = named.ToDictionary(p => p.name, p => p.parameter);
            foreach (var slot in _units.SelectMany(u => u.Slots)) slot.Parameter = byName[slot.Name];
        }

        protected IProcessGroup World { get; }

        public int Stage { get; }

        public IReadOnlyList<ParameterUnit> Units => _units;

        public abstract bool IsSharded { get; }

        public abstract bool GradientsSharded { get; }

        public ILayerParameterHooks? LayerHooks => null;

        /// <summary>The model computes in a dtype other than float32 (its gradients must not add up in that dtype).</summary>
        protected bool LowPrecision => _units[0].Slots[0].Parameter!.dtype != ScalarType.Float32;

        public void BeginMicroBatch()
        {
        }

        public abstract void AccumulateMicroBatch();

        public abstract Tensor ReduceGradient(int u);

        public abstract Tensor GradientShard(int u);

        public abstract void WriteShard(int u, Tensor master);

        public void ReadShard(int u, Tensor destination)
        {
            using var noGrad = no_grad();
            foreach (var (slot, slotStart, shardStart, length) in _units[u].SlotsInShard())
                destination.narrow(0, shardStart, length).copy_(slot.Parameter!.flatten().narrow(0, slotStart, length));
        }

        public void GatherParameters()
        {
        }

        public void ReleaseParameters()
        {
        }

        /// <summary>Unit <paramref name="u"/>'s gradients as one float32 vector of its padded length (zeros where a grad is missing).</summary>
        protected Tensor FlatGradient(int u)
        {
            var unit = _units[u];
            var flat = zeros(unit.PaddedNumel, ScalarType.Float32, unit.Slots[0].Parameter!.device);
            foreach (var slot in unit.Slots)
            {
                var g = slot.Parameter!.grad;
                if (g is not null) flat.narrow(0, slot.Offset, slot.Numel).copy_(g.flatten());
            }
            return flat;
        }

        protected void ClearGradients(int u)
        {
            foreach (var slot in _units[u].Slots) slot.Parameter!.grad?.zero_();
        }

        /// <summary>Copies a whole unit's values (a flat [PaddedNumel] vector in any dtype and device) into its parameters.</summary>
        protected void CopyIntoParameters(int u, Tensor whole)
        {
            using var noGrad = no_grad();
            foreach (var slot in _units[u].Slots)
                slot.Parameter!.copy_(whole.narrow(0, slot.Offset, slot.Numel).view(slot.Shape));
        }

        /// <summary>Float32 accumulators of whole units, for a low-precision model that accumulates micro-batches; else nulls.</summary>
        protected Tensor?[] WholeAccumulators(int accumulationSteps) =>
            _units.Select(u => accumulationSteps > 1 && LowPrecision
                ? zeros(u.PaddedNumel, ScalarType.Float32, u.Slots[0].Parameter!.device) : null).ToArray();

        /// <summary>Moves this micro-batch's gradients into the whole-unit accumulators (a no-op without them).</summary>
        protected void AccumulateWhole(Tensor?[] accumulated)
        {
            using var noGrad = no_grad();
            for (int u = 0; u < _units.Count; u++)
            {
                if (accumulated[u] is not Tensor acc) continue;
                using var scope = NewDisposeScope();
                acc.add_(FlatGradient(u));
                ClearGradients(u);
            }
        }

        /// <summary>Unit <paramref name="u"/>'s whole gradient (plus what its accumulator holds, which is cleared), all-reduced.</summary>
        protected Tensor AllReducedWhole(int u, Tensor?[] accumulated)
        {
            var flat = FlatGradient(u);
            if (accumulated[u] is Tensor acc)
            {
                flat.add_(acc);
                acc.zero_();
            }
            if (World.Size > 1) World.AllReduce(flat);
            return flat;
        }

        public virtual void Dispose()
        {
        }
    }
}
