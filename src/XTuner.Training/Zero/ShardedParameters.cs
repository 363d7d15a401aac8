using System;
using System.Collections.Generic;
using System.Linq;
using XTuner.Core.Configuration;
using XTuner.Training.Distributed;
using TorchSharp;
using XTuner.Training.Models;
using static TorchSharp.torch;

namespace XTuner.Training.Zero
{
    /// <summary>
    /// ZeRO-3 parameter sharding. Each rank keeps only its shard of every unit's parameters (in the compute dtype); a
    /// decoder layer's full parameters are all-gathered just before it runs forward and again before its recompute in
    /// backward, and released after. When a layer's backward is done its gradients are reduce-scattered into a float32
    /// shard accumulator and freed. The embeddings and the final norm/head, used outside the layers, stay gathered from
    /// the first micro-batch of a step to the optimizer step. Needs activation checkpointing (the recompute is when a
    /// layer's parameters are gathered again).
    /// </summary>
    public sealed class ShardedParameters : IZeroStrategy, ILayerParameterHooks
    {
        private readonly IProcessGroup _world;
        private readonly IReadOnlyList<ParameterUnit> _units;
        private readonly Tensor[] _shards;
        private readonly Tensor[] _accumulated;
        private readonly Tensor?[] _gathered;
        private readonly int[] _layerUnit;
        private readonly Tensor _released;

        /// <summary>
        /// Shards laid out as <paramref name="units"/> (from a model built on the meta device), zero until
        /// <see cref="TakeLayer"/> and <see cref="TakeRemaining"/> fill them from the model as it is built.
        /// </summary>
        public ShardedParameters(IReadOnlyList<ParameterUnit> units, IProcessGroup world, ScalarType dtype, Device device)
        {
            _world = world;
            _units = units;
            _released = empty(0, dtype, device);
            _shards = units.Select(u => zeros(u.ShardLength, dtype, device)).ToArray();
            _accumulated = units.Select(u => zeros(u.ShardLength, ScalarType.Float32, device)).ToArray();
            _gathered = new Tensor?[units.Count];
            _layerUnit = ParameterUnit.LayerUnits(units);
        }

        /// <summary>
        /// The shard layout over <paramref name="world"/> from the model's parameter names and shapes on the meta device;
        /// the shards are zero until the model is built through <see cref="TakeLayer"/> and <see cref="TakeRemaining"/>.
        /// </summary>
        public static ShardedParameters Lay(ModelSpec spec, ScalarType dtype, Device device, IProcessGroup world)
        {
            using var meta = new DecoderModel(spec, new Device("meta"), dtype);
            var units = ParameterUnit.Partition(meta.named_parameters().Select(p => (p.name, p.parameter.shape)).ToList(),
                Optim.ParameterGroups.NoDecay, world.Size, world.Rank);
            return new ShardedParameters(units, world, dtype, device);
        }

        public int Stage => 3;

        public IReadOnlyList<ParameterUnit> Units => _units;

        public bool IsSharded => _world.Size > 1;

        public bool GradientsSharded => _world.Size > 1;

        public ILayerParameterHooks? LayerHooks => this;

        /// <summary>Every parameter's name and full shape, as a checkpoint must hold them.</summary>
        public IReadOnlyList<(string Name, long[] Shape)> ExpectedShapes =>
            _units.SelectMany(u => u.Slots).Select(s => (s.Name, s.Shape)).ToList();

        /// <summary>Keeps this rank's shard of a freshly built layer and releases its parameters (the model's onLayerBuilt).</summary>
        public void TakeLayer(int layer, nn.Module module)
        {
            var unit = _units[_layerUnit[layer]];
            var prefix = unit.Slots[0].Name.Substring(0, unit.Slots[0].Name.IndexOf($"layers.{layer}.", StringComparison.Ordinal) + $"layers.{layer}.".Length);
            var byName = module.named_parameters().ToDictionary(p => prefix + p.name, p => p.parameter);
            foreach (var slot in unit.Slots) slot.Parameter = byName[slot.Name];
            TakeShard(_layerUnit[layer]);
        }

        /// <summary>Binds every unit to the finished model and shards what is still whole (embeddings, head).</summary>
        public void TakeRemaining(DecoderModel model)
        {
            var byName = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            for (int u = 0; u < _units.Count; u++)
            {
                foreach (var slot in _units[u].Slots) slot.Parameter = byName[slot.Name];
                if (!_units[u].IsLayer) TakeShard(u);
            }
        }

        /// <summary>Fills this rank's shards from a checkpoint, reading only this rank's part of each tensor.</summary>
        public void Load(IO.HfCheckpoint.CheckpointReader reader)
        {
            for (int u = 0; u < _units.Count; u++)
                foreach (var (slot, slotStart, shardStart, length) in _units[u].SlotsInShard())
                    reader.ReadRangeInto(slot.Name, slotStart, _shards[u].narrow(0, shardStart, length));
        }

        /// <summary>
        /// Gathers the units one at a time; with <paramref name="keep"/> (rank 0) every parameter is a host copy in
        /// state_dict order, so exporting never needs the whole model on a device.
        /// </summary>
        public List<KeyValuePair<string, Tensor>> FinalParameters(bool keep)
        {
            var result = new List<KeyValuePair<string, Tensor>>();
            for (int u = 0; u < _units.Count; u++)
            {
                bool wasGathered = _gathered[u] is not null;
                Gather(u);
                if (keep)
                    foreach (var slot in _units[u].Slots)
                    {
                        var p = slot.Parameter!.detach();
                        result.Add(new KeyValuePair<string, Tensor>(slot.Name, p.device.type == TorchSharp.DeviceType.CPU ? p.clone() : p.cpu()));
                    }
                if (!wasGathered) Release(u);
            }
            return result;
        }

        private void TakeShard(int u)
        {
            using var noGrad = no_grad();
            foreach (var (slot, slotStart, shardStart, length) in _units[u].SlotsInShard())
                _shards[u].narrow(0, shardStart, length).copy_(slot.Parameter!.flatten().narrow(0, slotStart, length));
            Release(u);
        }

        public void AccumulateMicroBatch() => EndMicroBatch();

        /// <summary>
        /// Unit <paramref name="u"/>'s gradients of every micro-batch, reduce-scattered: those still on a gathered unit
        /// (embeddings, head) join its accumulator first, and the unit is released. Returns the float32 shard accumulator.
        /// </summary>
        public Tensor ReduceGradient(int u)
        {
            if (_gathered[u] is not null && _units[u].Slots.Any(s => s.Parameter!.grad is not null)) ReduceGradients(u);
            Release(u);
            return _accumulated[u];
        }

        public Tensor GradientShard(int u) => _accumulated[u];

        public void ReadShard(int u, Tensor destination)
        {
            using var noGrad = no_grad();
            destination.copy_(_shards[u]);
        }

        /// <summary>The new values of this rank's shard after an optimizer step; its gradient accumulator is cleared.</summary>
        public void WriteShard(int u, Tensor master)
        {
            using var noGrad = no_grad();
            _shards[u].copy_(master);
            _accumulated[u].zero_();
        }

        public void BeforeForward(int layer) => Gather(_layerUnit[layer]);

        public void AfterForward(int layer) => Release(_layerUnit[layer]);

        public void BeforeRecompute(int layer) => Gather(_layerUnit[layer]);

        public void AfterBackward(int layer)
        {
            ReduceGradients(_layerUnit[layer]);
            Release(_layerUnit[layer]);
        }

        /// <summary>Before a micro-batch: the units used outside the layers (embeddings, head) are gathered.</summary>
        public void BeginMicroBatch()
        {
            for (int u = 0; u < _units.Count; u++)
                if (!_units[u].IsLayer) Gather(u);
        }

        /// <summary>After a micro-batch's backward: gradients still on gathered units (embeddings, head) join the accumulators.</summary>
        private void EndMicroBatch()
        {
            for (int u = 0; u < _units.Count; u++)
                if (_gathered[u] is not null && _units[u].Slots.Any(s => s.Parameter!.grad is not null)) ReduceGradients(u);
        }

        /// <summary>Releases every gathered unit.</summary>
        public void ReleaseParameters()
        {
            for (int u = 0; u < _units.Count; u++) Release(u);
        }

        /// <summary>Gathers every unit (to export or inspect the whole model); pair with <see cref="ReleaseParameters"/>.</summary>
        public void GatherParameters()
        {
            for (int u = 0; u < _units.Count; u++) Gather(u);
        }

        private void Gather(int u)
        {
            if (_gathered[u] is not null) return;
            var unit = _units[u];
            var full = empty(unit.PaddedNumel, _shards[u].dtype, _shards[u].device).DetachFromDisposeScope();
            _world.AllGather(full, _shards[u]);
            unit.PointAt(full);
            _gathered[u] = full;
        }

        private void Release(int u)
        {
            _units[u].Release(_released);
            foreach (var slot in _units[u].Slots) slot.Parameter!.grad = null;
            _gathered[u]?.Dispose();
            _gathered[u] = null;
        }

        private void ReduceGradients(int u)
        {
            using var scope = NewDisposeScope();
            var unit = _units[u];
            var flat = zeros(unit.PaddedNumel, ScalarType.Float32, _shards[u].device);
            foreach (var slot in unit.Slots)
            {
                var g = slot.Parameter!.grad;
                if (g is not null) flat.narrow(0, slot.Offset, slot.Numel).copy_(g.flatten());
                slot.Parameter!.grad = null;
            }
            var shard = empty(unit.ShardLength, ScalarType.Float32, flat.device);
            _world.ReduceScatter(shard, flat);
            _accumulated[u].add_(shard);
        }

        public void Dispose()
        {
            foreach (var t in _shards.Concat(_accumulated)) t.Dispose();
            foreach (var t in _gathered) t?.Dispose();
            _released.Dispose();
        }
    }
}
