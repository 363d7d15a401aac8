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
        private readonly Tensor[] _gradients;
        private readonly Tensor[][] _views;
        private readonly (string Name, Tensor Parameter)[] _named;

        protected WholeParameters(DecoderModel model, IProcessGroup world, int stage, int shards)
        {
            World = world;
            Stage = stage;
            var named = model.named_parameters().ToList();
            _named = named.Select(p => (p.name, (Tensor)p.parameter)).ToArray();
            _units = ParameterUnit.Partition(named.Select(p => (p.name, p.parameter.shape)), ParameterGroups.NoDecay,
                shards, shards > 1 ? world.Rank : 0);
            var byName = named.ToDictionary(p => p.name, p => p.parameter);
            foreach (var slot in _units.SelectMany(u => u.Slots)) slot.Parameter = byName[slot.Name];
            // Each unit's .grad tensors are views of one flat buffer in the model's dtype: backward adds into them in
            // place (they stay defined, zeroed after each step), so the whole unit's gradient is there without a copy.
            _gradients = _units.Select(u => zeros(u.PaddedNumel, u.Slots[0].Parameter!.dtype, u.Slots[0].Parameter!.device)
                .DetachFromDisposeScope()).ToArray();
            _views = _units.Select((u, i) => u.Slots.Select(slot =>
                _gradients[i].narrow(0, slot.Offset, slot.Numel).view(slot.Shape).DetachFromDisposeScope()).ToArray()).ToArray();
            for (int u = 0; u < _units.Count; u++) AttachGradients(u);
        }

        protected IProcessGroup World { get; }

        public int Stage { get; }

        public IReadOnlyList<ParameterUnit> Units => _units;

        public abstract bool IsSharded { get; }

        public abstract bool GradientsSharded { get; }

        public virtual ILayerParameterHooks? LayerHooks => null;

        /// <summary>The model computes in a dtype other than float32 (its gradients must not add up in that dtype).</summary>
        protected bool LowPrecision => _units[0].Slots[0].Parameter!.dtype != ScalarType.Float32;

        public virtual void BeginMicroBatch()
        {
        }

        public abstract void AccumulateMicroBatch();

        public abstract Tensor ReduceGradient(int u);

        public abstract Tensor GradientShard(int u);

        public abstract void WriteShard(int u, Tensor master);

        public virtual void ReadShard(int u, Tensor destination)
        {
            using var noGrad = no_grad();
            // The flattened views would otherwise keep the parameters' storage until a GC (what CastParameters frees).
            using var scope = NewDisposeScope();
            foreach (var (slot, slotStart, shardStart, length) in _units[u].SlotsInShard())
                destination.narrow(0, shardStart, length).copy_(slot.Parameter!.flatten().narrow(0, slotStart, length));
        }

        public virtual void GatherParameters()
        {
        }

        public virtual void ReleaseParameters()
        {
        }

        public virtual List<KeyValuePair<string, Tensor>> FinalParameters(bool keep) => keep
            ? _named.Select(p => new KeyValuePair<string, Tensor>(p.Name, p.Parameter.detach())).ToList()
            : new List<KeyValuePair<string, Tensor>>();

        /// <summary>The parameters' names in the model's order (a checkpoint's order).</summary>
        protected IEnumerable<string> ParameterNames => _named.Select(p => p.Name);

        /// <summary>
        /// Unit <paramref name="u"/>'s gradients in place: the flat [PaddedNumel] buffer its .grad tensors are views of, in
        /// the model's dtype (zeros in the padding and where a parameter took no gradient).
        /// </summary>
        protected Tensor GradientBuffer(int u)
        {
            AttachGradients(u);
            return _gradients[u];
        }

        /// <summary>Unit <paramref name="u"/>'s gradients as a new float32 vector of its padded length.</summary>
        protected Tensor FlatGradient(int u) => GradientBuffer(u).to(ScalarType.Float32, copy: true);

        protected void ClearGradients(int u) => GradientBuffer(u).zero_();

        // Points every .grad of unit u at its view again where something replaced it (its values move into the view).
        private void AttachGradients(int u)
        {
            using var noGrad = no_grad();
            var slots = _units[u].Slots;
            for (int i = 0; i < slots.Count; i++)
            {
                var view = _views[u][i];
                using var grad = slots[i].Parameter!.grad;
                if (grad is not null && TensorMemory.Pointer(grad) == TensorMemory.Pointer(view) && grad.is_contiguous()) continue;
                if (grad is null) view.zero_();
                else view.copy_(grad);
                slots[i].Parameter!.grad = view;
            }
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
            foreach (var t in _views.SelectMany(v => v).Concat(_gradients)) t.Dispose();
        }
    }
}
