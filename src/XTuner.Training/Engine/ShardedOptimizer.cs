using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using XTuner.Training.Distributed;
using XTuner.Training.IO;
using XTuner.Training.Models;
using XTuner.Training.Optim;
using static TorchSharp.torch;

namespace XTuner.Training.Engine
{
    /// <summary>AdamW settings and gradient clipping.</summary>
    public sealed class OptimizerSettings
    {
        public double Beta1 { get; set; } = 0.9;
        public double Beta2 { get; set; } = 0.999;
        public double Eps { get; set; } = 1e-8;
        public double WeightDecay { get; set; }
        /// <summary>Global gradient-norm clip; 0 turns clipping off.</summary>
        public double MaxNorm { get; set; }
    }

    /// <summary>
    /// Mixed-precision AdamW over the whole world with ZeRO stages 0-3. The model computes in its own dtype (float32 on
    /// CPU, bfloat16 on CUDA); float32 master weights and both moments live in flat per-unit buffers. Gradients are
    /// SUMMED over the world (each rank back-propagated local loss / global token count, so the sum is the exact
    /// gradient of the global token-mean loss): all-reduced (stages 0, 1) or reduce-scattered (stage 2). Stage 1 and 2
    /// keep only this rank's shard of master weights and moments and all-gather the updated weights; stage 3 also keeps
    /// only a shard of the parameters themselves (<see cref="ParameterShards"/>).
    /// </summary>
    public sealed class ShardedOptimizer : IDisposable
    {
        private readonly IProcessGroup _world;
        private readonly OptimizerSettings _settings;
        private readonly List<ParameterUnit> _units;
        private readonly Tensor[] _master, _expAvg, _expAvgSq;
        private readonly Tensor?[] _shardGrad;
        private readonly Tensor?[] _accumulated;
        private readonly bool _sharded;
        private readonly ParameterShards? _parameterShards;


        /// <remarks>
        /// <c>parameterShards</c>: ZeRO-3's parameter shards (required for stage 3, null otherwise); the model was built
        /// through them, so its parameters are already sharded and the master weights come from the shards.
        /// </remarks>
        public ShardedOptimizer(DecoderModel model, IProcessGroup world, int zeroStage, OptimizerSettings settings, int accumulationSteps,
            ParameterShards? parameterShards = null)
        {
            if (zeroStage < 0 || zeroStage > 3)
                throw new ArgumentOutOfRangeException(nameof(zeroStage), zeroStage, "ZeRO stages are 0 to 3.");
            _world = world;
            _settings = settings;
            ZeroStage = zeroStage;
            _sharded = zeroStage >= 1 && world.Size > 1;
            if ((zeroStage == 3) != (parameterShards != null))
                throw new ArgumentException("ZeRO-3 needs the parameter shards the model was built through, and only ZeRO-3 has them.", nameof(parameterShards));
            _parameterShards = parameterShards;
            if (parameterShards != null)
            {
                _units = parameterShards.Units.ToList();
            }
            else
            {
                var named = model.named_parameters().Select(p => (p.name, p.parameter.shape)).ToList();
                _units = ParameterUnit.Partition(named, ParameterGroups.NoDecay, _sharded ? world.Size : 1, _sharded ? world.Rank : 0);
                Bind(model);
            }
            int n = _units.Count;
            _master = new Tensor[n];
            _expAvg = new Tensor[n];
            _expAvgSq = new Tensor[n];
            _shardGrad = new Tensor?[n];
            _accumulated = new Tensor?[n];
            var device = model.parameters().First().device;
            using var noGrad = no_grad();
            for (int u = 0; u < n; u++)
            {
                var unit = _units[u];
                _master[u] = zeros(unit.ShardLength, ScalarType.Float32, device);
                if (parameterShards != null)
                    _master[u].copy_(parameterShards.Shard(u));
                else
                    foreach (var (slot, slotStart, shardStart, length) in unit.SlotsInShard())
                        _master[u].narrow(0, shardStart, length).copy_(slot.Parameter!.flatten().narrow(0, slotStart, length));
                _expAvg[u] = zeros(unit.ShardLength, ScalarType.Float32, device);
                _expAvgSq[u] = zeros(unit.ShardLength, ScalarType.Float32, device);
                // Accumulation across micro-batches: ZeRO-2 reduce-scatters each micro-batch into a float32 shard (the
                // gradient sharding that defines it); below, low-precision parameters accumulate in float32, not bf16.
                if (accumulationSteps > 1 && ShardsGradients)
                    _accumulated[u] = zeros(unit.ShardLength, ScalarType.Float32, device);
                else if (accumulationSteps > 1 && zeroStage < 3 && _units[u].Slots[0].Parameter!.dtype != ScalarType.Float32)
                    _accumulated[u] = zeros(unit.PaddedNumel, ScalarType.Float32, device);
            }
        }

        /// <summary>What the model must call around its layers (ZeRO-3); null below stage 3.</summary>
        public ILayerParameterHooks? LayerHooks => _parameterShards;

        /// <summary>Before each micro-batch's forward (ZeRO-3 gathers the embeddings and head).</summary>
        public void BeginMicroBatch() => _parameterShards?.BeginMicroBatch();

        /// <summary>Makes every parameter whole (ZeRO-3) to export or inspect the model; collective. Pair with <see cref="ReleaseParameters"/>.</summary>
        public void GatherParameters() => _parameterShards?.GatherAll();

        public void ReleaseParameters() => _parameterShards?.ReleaseAll();

        public int ZeroStage { get; }

        /// <summary>ZeRO-2 over several ranks: each rank keeps only its shard of the reduced gradients.</summary>
        private bool ShardsGradients => ZeroStage == 2 && _sharded;

        /// <summary>Optimizer steps taken (AdamW's t).</summary>
        public long Step { get; private set; }

        public IReadOnlyList<ParameterUnit> Units => _units;

        /// <summary>
        /// Diagnostics: called on every rank with each parameter's full gradient summed over the world, before
        /// clipping (tests compare them with one process; under ZeRO-2 the shards are gathered for it).
        /// </summary>
        public Action<IReadOnlyList<KeyValuePair<string, Tensor>>>? OnReducedGradients { get; set; }

        /// <summary>Points the slots at the model's current parameters (after it moved or changed dtype).</summary>
        private void Bind(DecoderModel model)
        {
            var byName = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var slot in _units.SelectMany(u => u.Slots)) slot.Parameter = byName[slot.Name];
        }

        /// <summary>
        /// Moves this micro-batch's gradients into float32 accumulators and clears them, so that low-precision
        /// parameters never sum gradients across micro-batches in their own dtype. A no-op without accumulators.
        /// </summary>
        public void AccumulateMicroBatch()
        {
            if (_parameterShards != null)
            {
                _parameterShards.EndMicroBatch();
                return;
            }
            if (_accumulated[0] is null) return;
            using var noGrad = no_grad();
            for (int u = 0; u < _units.Count; u++)
            {
                using var scope = NewDisposeScope();
                var flat = FlatGradient(_units[u]);
                _accumulated[u]!.add_(ShardsGradients ? ReduceScatter(u, flat) : flat);
                foreach (var slot in _units[u].Slots) slot.Parameter!.grad?.zero_();
            }
        }

        /// <summary>
        /// Reduces gradients over the world, clips them to the global norm and takes one AdamW step with learning rate
        /// <paramref name="lr"/>. Returns the gradient norm before clipping. Gradients are cleared afterwards.
        /// </summary>
        public double StepAll(double lr)
        {
            Step++;
            var device = _master[0].device;
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var sumOfSquares = zeros(1, ScalarType.Float32, device);
            if (_parameterShards != null)
            {
                _parameterShards.EndMicroBatch();
                _parameterShards.ReleaseAll();
            }
            for (int u = 0; u < _units.Count && _parameterShards != null; u++)
            {
                var shard = _parameterShards.Accumulated(u);
                sumOfSquares.add_(shard.dot(shard));
            }
            for (int u = 0; u < _units.Count && _parameterShards == null; u++)
            {
                // Each unit's float32 gradient is as large as a layer: free it before the next one.
                using var unitScope = NewDisposeScope();
                var unit = _units[u];
                var flat = FlatGradient(unit);
                if (ShardsGradients)
                {
                    var shard = ReduceScatter(u, flat);
                    if (_accumulated[u] is Tensor acc)
                    {
                        shard.add_(acc);
                        acc.zero_();
                    }
                    sumOfSquares.add_(shard.dot(shard));
                    _shardGrad[u]?.Dispose();
                    _shardGrad[u] = shard.DetachFromDisposeScope();
                    continue;
                }
                if (_accumulated[u] is Tensor full)
                {
                    flat.add_(full);
                    full.zero_();
                }
                if (_world.Size > 1) _world.AllReduce(flat);
                sumOfSquares.add_(flat.dot(flat));
                if (_sharded)
                {
                    // ZeRO-1: the update reads this rank's shard of the float32 sum, as ZeRO-2 and 3 do.
                    _shardGrad[u]?.Dispose();
                    _shardGrad[u] = flat.narrow(0, unit.ShardOffset, unit.ShardLength).clone().DetachFromDisposeScope();
                }
                else
                {
                    // Unsharded, the reduced gradient waits in .grad (the model's dtype) until the step below reads it.
                    foreach (var slot in unit.Slots)
                        slot.Parameter!.grad?.copy_(flat.narrow(0, slot.Offset, slot.Numel).view(slot.Shape));
                }
            }
            // Shards of gradients (ZeRO-2 and 3) give partial sums of squares; ZeRO-0 and 1 reduced the whole gradient.
            if (ZeroStage >= 2 && _world.Size > 1) _world.AllReduce(sumOfSquares);
            if (OnReducedGradients != null) ReportGradients();
            double norm = Math.Sqrt(sumOfSquares.item<float>());
            double scale = _settings.MaxNorm > 0 && norm > _settings.MaxNorm ? _settings.MaxNorm / (norm + 1e-6) : 1.0;

            for (int u = 0; u < _units.Count; u++)
            {
                using var unitScope = NewDisposeScope();
                var unit = _units[u];
                foreach (var (slot, slotStart, shardStart, length) in unit.SlotsInShard())
                {
                    var grad = ShardGradient(u) is Tensor sg
                        ? sg.narrow(0, shardStart, length)
                        : slot.Parameter!.grad!.flatten().narrow(0, slotStart, length);
                    if (scale != 1.0) grad = grad.mul(scale);
                    AdamW.Step(_master[u].narrow(0, shardStart, length), grad,
                        _expAvg[u].narrow(0, shardStart, length), _expAvgSq[u].narrow(0, shardStart, length),
                        Step, lr, _settings.Beta1, _settings.Beta2, _settings.Eps, slot.NoDecay ? 0 : _settings.WeightDecay);
                }
                RefreshParameters(u);
                foreach (var slot in unit.Slots) slot.Parameter!.grad?.zero_();
                _shardGrad[u]?.Dispose();
                _shardGrad[u] = null;
            }
            return norm;
        }

        private void ReportGradients()
        {
            using var scope = NewDisposeScope();
            var grads = new List<KeyValuePair<string, Tensor>>();
            for (int u = 0; u < _units.Count; u++)
            {
                var unit = _units[u];
                Tensor? full = null;
                if (ShardGradient(u) is Tensor shard)
                {
                    full = empty(unit.PaddedNumel, ScalarType.Float32, shard.device);
                    _world.AllGather(full, shard);
                }
                foreach (var slot in unit.Slots)
                    grads.Add(new KeyValuePair<string, Tensor>(slot.Name,
                        full is null ? slot.Parameter!.grad!.to(ScalarType.Float32) : full.narrow(0, slot.Offset, slot.Numel).view(slot.Shape)));
            }
            OnReducedGradients!(grads);
        }

        /// <summary>This rank's shard of a unit's reduced gradient (ZeRO-2 and 3), or null when .grad holds the whole.</summary>
        private Tensor? ShardGradient(int u) => _parameterShards?.Accumulated(u) ?? _shardGrad[u];

        /// <summary>Copies master weights into the model's parameters (all-gathering shards under ZeRO).</summary>
        private void RefreshParameters(int u)
        {
            if (_parameterShards != null)
            {
                _parameterShards.Update(u, _master[u]);
                return;
            }
            var unit = _units[u];
            var dtype = unit.Slots[0].Parameter!.dtype;
            if (!_sharded)
            {
                foreach (var slot in unit.Slots)
                    slot.Parameter!.copy_(_master[u].narrow(0, slot.Offset, slot.Numel).view(slot.Shape));
                return;
            }
            var full = empty(unit.PaddedNumel, dtype, _master[u].device);
            _world.AllGather(full, _master[u].to(dtype));
            foreach (var slot in unit.Slots)
                slot.Parameter!.copy_(full.narrow(0, slot.Offset, slot.Numel).view(slot.Shape));
        }

        /// <summary>This rank's shard of a unit's gradient summed over the world.</summary>
        private Tensor ReduceScatter(int u, Tensor flat)
        {
            var shard = empty(_units[u].ShardLength, ScalarType.Float32, flat.device);
            _world.ReduceScatter(shard, flat);
            return shard;
        }

        /// <summary>This unit's gradients as one float32 vector of its padded length (zeros where a grad is missing).</summary>
        private static Tensor FlatGradient(ParameterUnit unit)
        {
            var first = unit.Slots[0].Parameter!;
            var flat = zeros(unit.PaddedNumel, ScalarType.Float32, first.device);
            foreach (var slot in unit.Slots)
            {
                var g = slot.Parameter!.grad;
                if (g is not null) flat.narrow(0, slot.Offset, slot.Numel).copy_(g.flatten());
            }
            return flat;
        }

        /// <summary>This rank's optimizer state, as named tensors for a checkpoint.</summary>
        public IReadOnlyList<KeyValuePair<string, Tensor>> StateTensors() =>
            _units.SelectMany((unit, u) => new[]
            {
                new KeyValuePair<string, Tensor>(unit.Name + ".master", _master[u]),
                new KeyValuePair<string, Tensor>(unit.Name + ".exp_avg", _expAvg[u]),
                new KeyValuePair<string, Tensor>(unit.Name + ".exp_avg_sq", _expAvgSq[u]),
            }).ToList();

        /// <summary>Restores what <see cref="StateTensors"/> saved (same world size and stage) and refreshes the model.</summary>
        public void LoadState(SafetensorsFile file, long step)
        {
            using var noGrad = no_grad();
            for (int u = 0; u < _units.Count; u++)
            {
                var name = _units[u].Name;
                foreach (var (key, target) in new[] { (".master", _master[u]), (".exp_avg", _expAvg[u]), (".exp_avg_sq", _expAvgSq[u]) })
                {
                    if (!file.Tensors.TryGetValue(name + key, out var info) || info.Shape.Length != 1 || info.Shape[0] != target.shape[0])
                        throw new InvalidOperationException($"{file.Path}: optimizer state '{name}{key}' is missing or has another size; a checkpoint resumes only with the same world size and zero_stage.");
                    using var loaded = file.Read(name + key);
                    target.copy_(loaded);
                }
                RefreshParameters(u);
            }
            Step = step;
        }

        public void Dispose()
        {
            foreach (var t in _master.Concat(_expAvg).Concat(_expAvgSq)) t.Dispose();
            foreach (var t in _shardGrad.Concat(_accumulated)) t?.Dispose();
            _parameterShards?.Dispose();
        }
    }
}
