using System.Collections.Generic;
using System.Linq;
using XTuner.Training.IO;
using XTuner.Training.Zero;
using static TorchSharp.torch;

namespace XTuner.Training.Optim
{
    /// <summary>Master weights and both moments in flat float32 shards on the compute device; the update runs there.</summary>
    public sealed class DeviceOptimizerStates : IOptimizerStates
    {
        private readonly IReadOnlyList<ParameterUnit> _units;
        private readonly OptimizerSettings _settings;
        private readonly Tensor[] _master, _expAvg, _expAvgSq;

        /// <summary>States for <paramref name="zero"/>'s units on <paramref name="device"/>, the master from the current parameters.</summary>
        public DeviceOptimizerStates(IZeroStrategy zero, OptimizerSettings settings, Device device)
        {
            _units = zero.Units;
            _settings = settings;
            _master = _units.Select(u => zeros(u.ShardLength, ScalarType.Float32, device)).ToArray();
            _expAvg = _units.Select(u => zeros(u.ShardLength, ScalarType.Float32, device)).ToArray();
            _expAvgSq = _units.Select(u => zeros(u.ShardLength, ScalarType.Float32, device)).ToArray();
            for (int u = 0; u < _units.Count; u++) zero.ReadShard(u, _master[u]);
        }

        public Tensor Master(int u) => _master[u];

        public void Update(int u, Tensor gradient, double gradientScale, long step, double lr)
        {
            using var scope = NewDisposeScope();
            foreach (var (slot, _, shardStart, length) in _units[u].SlotsInShard())
            {
                var grad = gradient.narrow(0, shardStart, length);
                if (gradientScale != 1.0) grad = grad.mul(gradientScale);
                AdamW.Step(_master[u].narrow(0, shardStart, length), grad,
                    _expAvg[u].narrow(0, shardStart, length), _expAvgSq[u].narrow(0, shardStart, length),
                    step, lr, _settings.Beta1, _settings.Beta2, _settings.Eps, slot.NoDecay ? 0 : _settings.WeightDecay);
            }
        }

        public IReadOnlyList<KeyValuePair<string, Tensor>> StateTensors() => OptimizerStateNames.Named(_units, _master, _expAvg, _expAvgSq);

        public void Load(SafetensorsFile file) => OptimizerStateNames.Load(file, _units, _master, _expAvg, _expAvgSq);

        public void Dispose()
        {
            foreach (var t in _master.Concat(_expAvg).Concat(_expAvgSq)) t.Dispose();
        }
    }
}
