using System;
using System.Collections.Generic;
using System.Linq;
using XTuner.Training.Distributed;
using XTuner.Training.Models;
using XTuner.Training.Optim;
using static TorchSharp.torch;

namespace XTuner.Training.Zero
{
    /// <summary>
    /// ZeRO-0's states (<see cref="ReplicatedStates"/>) without a whole copy of the weights in the compute dtype
    /// (<c>cast_weights_per_layer</c>): a unit's parameters are cast from its float32 master on the device when they are
    /// used and hold no memory between uses. A decoder layer's are cast before its forward and released after it (when
    /// the layer is checkpointed), cast again before its recompute and released after its backward; a layer that keeps
    /// its activations, and the embeddings, final norm and head, keep theirs from first use until the optimizer step.
    /// Gradients stay in <c>.grad</c>'s flat buffers as ReplicatedStates keeps them. A cast rounds to nearest even, as the
    /// update's copy does, so the numbers are the ones the copy would hold: 2 bytes per parameter less, for two casts
    /// of the master per step.
    /// </summary>
    public sealed class CastParameters : ReplicatedStates, ILayerParameterHooks
    {
        private readonly Tensor?[] _cast;
        private readonly int[] _layerUnit;
        private readonly Tensor _released;
        private DeviceOptimizerStates? _states;

        public CastParameters(DecoderModel model, IProcessGroup world, int stage, int accumulationSteps)
            : base(model, world, stage, accumulationSteps)
        {
            _cast = new Tensor?[Units.Count];
            _layerUnit = ParameterUnit.LayerUnits(Units);
            var first = Units[0].Slots[0].Parameter!;
            _released = empty(0, first.dtype, first.device);
        }

        public override ILayerParameterHooks? LayerHooks => this;

        /// <summary>
        /// From now on the parameters are cast from <paramref name="states"/>' master (read from them when the states were
        /// made); they are released until used. Until this is called they keep the values the model was built with.
        /// </summary>
        public void Bind(DeviceOptimizerStates states)
        {
            _states = states;
            states.WritesComputeCopy = false;
            ReleaseParameters();
        }

        public override void BeginMicroBatch()
        {
            for (int u = 0; u < Units.Count; u++)
                if (!Units[u].IsLayer) Cast(u);
        }

        public void BeforeForward(int layer) => Cast(_layerUnit[layer]);

        public void AfterForward(int layer) => Release(_layerUnit[layer]);

        public void BeforeRecompute(int layer) => Cast(_layerUnit[layer]);

        public void AfterBackward(int layer) => Release(_layerUnit[layer]);

        public override Tensor ReduceGradient(int u)
        {
            // The update changes the master: what was cast from it is stale.
            Release(u);
            return base.ReduceGradient(u);
        }

        public override void WriteShard(int u, Tensor master)
        {
            // The master is the parameters' values; the next use casts them.
            Release(u);
            ClearGradients(u);
        }

        public override void ReadShard(int u, Tensor destination)
        {
            if (_states is null)
            {
                base.ReadShard(u, destination);
                return;
            }
            using var noGrad = no_grad();
            destination.copy_(_states.Master(u));
        }

        /// <summary>
        /// The parameters as views of the float32 master: what a checkpoint saves in the compute dtype (the same rounding
        /// as a cast) without casting the whole model onto the device at once.
        /// </summary>
        public override List<KeyValuePair<string, Tensor>> FinalParameters(bool keep)
        {
            if (_states is null || !keep) return base.FinalParameters(keep);
            var views = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            for (int u = 0; u < Units.Count; u++)
                foreach (var slot in Units[u].Slots)
                    views[slot.Name] = _states.Master(u).narrow(0, slot.Offset, slot.Numel).view(slot.Shape);
            return ParameterNames.Select(name => new KeyValuePair<string, Tensor>(name, views[name])).ToList();
        }

        public override void GatherParameters()
        {
            for (int u = 0; u < Units.Count; u++) Cast(u);
        }

        public override void ReleaseParameters()
        {
            for (int u = 0; u < Units.Count; u++) Release(u);
        }

        private void Cast(int u)
        {
            if (_states is null || _cast[u] is not null) return;
            using var noGrad = no_grad();
            var full = _states.Master(u).to(_released.dtype, copy: true).DetachFromDisposeScope();
            Units[u].PointAt(full);
            _cast[u] = full;
        }

        // The .grad views stay where they are: backward adds into them while the parameters come and go.
        private void Release(int u)
        {
            if (_states is null) return;
            Units[u].Release(_released);
            _cast[u]?.Dispose();
            _cast[u] = null;
        }

        public override void Dispose()
        {
            foreach (var t in _cast) t?.Dispose();
            _released.Dispose();
            base.Dispose();
        }
    }
}
