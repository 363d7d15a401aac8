using System.Collections.Generic;
using System.Linq;
using XTuner.Training.IO;
using XTuner.Training.Kernels;
using XTuner.Training.Zero;
using static TorchSharp.torch;

namespace XTuner.Training.Optim
{
    /// <summary>
    /// Master weights and both moments in flat float32 shards on the compute device; the update runs there. With the
    /// fused kernels on CUDA it is one <see cref="AdamWKernel"/> pass, which for a bf16 model also writes the bf16
    /// values the parameters take (<see cref="Values"/> hands them over instead of the float32 master to cast).
    /// </summary>
    public sealed class DeviceOptimizerStates : IOptimizerStates
    {
        private readonly IReadOnlyList<ParameterUnit> _units;
        private readonly OptimizerSettings _settings;
        private readonly Tensor[] _master, _expAvg, _expAvgSq;
        private Tensor? _lowPrecision;
        private int _lowPrecisionUnit = -1;

        /// <summary>
        /// States for <paramref name="zero"/>'s units on <paramref name="device"/>, the master from the current parameters.
        /// <paramref name="masterRead"/> runs once the master holds them and before the moments exist: what frees the
        /// parameters then (<see cref="CastParameters.Bind"/>) keeps them and the moments from ever being on the device together.
        /// </summary>
        public DeviceOptimizerStates(IZeroStrategy zero, OptimizerSettings settings, Device device, System.Action<DeviceOptimizerStates>? masterRead = null)
        {
            _units = zero.Units;
            _settings = settings;
            _master = _units.Select(u => zeros(u.ShardLength, ScalarType.Float32, device)).ToArray();
            for (int u = 0; u < _units.Count; u++) zero.ReadShard(u, _master[u]);
            masterRead?.Invoke(this);
            _expAvg = _units.Select(u => zeros(u.ShardLength, ScalarType.Float32, device)).ToArray();
            _expAvgSq = _units.Select(u => zeros(u.ShardLength, ScalarType.Float32, device)).ToArray();
        }

        /// <summary>
        /// Whether the fused update of a bf16 model also writes the bf16 values the parameters take (<see cref="Values"/>);
        /// not when the parameters are cast from the master as they are used (<see cref="CastParameters"/>).
        /// </summary>
        public bool WritesComputeCopy { get; set; } = true;

        /// <summary>Unit <paramref name="u"/>'s float32 master shard on the device, as last updated (the states own it).</summary>
        public Tensor Master(int u) => _master[u];

        // The strategy casts as it copies; a separate cast would only allocate. The fused update's bf16 values are the same numbers.
        public Tensor Values(int u, ScalarType dtype) =>
            dtype == ScalarType.BFloat16 && _lowPrecisionUnit == u ? _lowPrecision!.narrow(0, 0, _units[u].ShardLength) : _master[u];

        public void Update(int u, Tensor gradient, double gradientScale, long step, double lr)
        {
            _lowPrecisionUnit = -1;
            if (FusedKernels.For(_master[u].device) && (gradient.dtype == ScalarType.Float32 || gradient.dtype == ScalarType.BFloat16) &&
                gradient.device.type == _master[u].device.type && gradient.device.index == _master[u].device.index && gradient.is_contiguous())
            {
                FusedUpdate(u, gradient, gradientScale, step, lr);
                return;
            }
            using var scope = NewDisposeScope();
            // A bf16 gradient widens exactly: the same float32 numbers as a float32 copy of it.
            var widened = gradient.to(ScalarType.Float32);
            foreach (var (slot, _, shardStart, length) in _units[u].SlotsInShard())
            {
                var grad = widened.narrow(0, shardStart, length);
                if (gradientScale != 1.0) grad = grad.mul(gradientScale);
                AdamW.Step(_master[u].narrow(0, shardStart, length), grad,
                    _expAvg[u].narrow(0, shardStart, length), _expAvgSq[u].narrow(0, shardStart, length),
                    step, lr, _settings.Beta1, _settings.Beta2, _settings.Eps, slot.NoDecay ? 0 : _settings.WeightDecay);
            }
        }

        private void FusedUpdate(int u, Tensor gradient, double gradientScale, long step, double lr)
        {
            using var scope = NewDisposeScope();
            bool lowPrecision = WritesComputeCopy && _units[u].Slots[0].Parameter?.dtype == ScalarType.BFloat16;
            if (lowPrecision && (_lowPrecision is null || _lowPrecision.numel() < _units[u].ShardLength))
            {
                _lowPrecision?.Dispose();
                // Zeros: the padding of a last shard is never written, and the strategy may carry it along.
                _lowPrecision = zeros(_units.Max(x => x.ShardLength), ScalarType.BFloat16, _master[u].device).DetachFromDisposeScope();
            }
            foreach (var (slot, _, shardStart, length) in _units[u].SlotsInShard())
                AdamWKernel.Step(_master[u].narrow(0, shardStart, length), gradient.narrow(0, shardStart, length),
                    _expAvg[u].narrow(0, shardStart, length), _expAvgSq[u].narrow(0, shardStart, length),
                    lowPrecision ? _lowPrecision!.narrow(0, shardStart, length) : null, step, lr,
                    _settings.Beta1, _settings.Beta2, _settings.Eps, slot.NoDecay ? 0 : _settings.WeightDecay, gradientScale);
            if (lowPrecision) _lowPrecisionUnit = u;
        }

        public IReadOnlyList<KeyValuePair<string, Tensor>> StateTensors() => OptimizerStateNames.Named(_units, _master, _expAvg, _expAvgSq);

        public void Load(SafetensorsFile file)
        {
            // The restored master is what the parameters take: no fused bf16 copy of an earlier update stands for it.
            _lowPrecisionUnit = -1;
            OptimizerStateNames.Load(file, _units, _master, _expAvg, _expAvgSq);
        }

        public void Dispose()
        {
            foreach (var t in _master.Concat(_expAvg).Concat(_expAvgSq)) t.Dispose();
            _lowPrecision?.Dispose();
        }
    }
}
