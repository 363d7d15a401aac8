using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using XTuner.Training.Distributed;
using XTuner.Training.IO;
using XTuner.Training.Zero;
using static TorchSharp.torch;

namespace XTuner.Training.Optim
{
    /// <summary>
    /// <c>offload_optimizer</c>: this rank's float32 master shard and both moments in host memory, updated on the CPU
    /// by <see cref="CpuAdamW"/> on the rank's CPU threads. On CUDA two pinned staging buffers carry the traffic at DMA
    /// speed: each unit's float32 gradient shard comes down into one, and its updated values, cast on the CPU to the
    /// parameters' dtype (half the bytes for bf16), go back up from the other through the ZeRO strategy. Only they are
    /// pinned: page-locking all the states would cost tens of seconds at start and gain nothing, as they never move.
    /// </summary>
    public sealed class HostOptimizerStates : IOptimizerStates
    {
        private readonly IReadOnlyList<ParameterUnit> _units;
        private readonly OptimizerSettings _settings;
        private readonly Tensor[] _master, _expAvg, _expAvgSq;
        private readonly bool _pinned;
        private readonly Tensor? _staging;
        private Tensor? _values;

        /// <param name="zero">The strategy whose shards these states hold; the master starts as its parameters' values.</param>
        /// <param name="settings">AdamW's settings.</param>
        /// <param name="pinned">Stage the transfers through pinned buffers (CUDA only: pinning needs a CUDA context).</param>
        public HostOptimizerStates(IZeroStrategy zero, OptimizerSettings settings, bool pinned)
        {
            _units = zero.Units;
            _settings = settings;
            _pinned = pinned;
            _master = _units.Select(u => zeros(u.ShardLength, ScalarType.Float32, CPU)).ToArray();
            _expAvg = _units.Select(u => zeros(u.ShardLength, ScalarType.Float32, CPU)).ToArray();
            _expAvgSq = _units.Select(u => zeros(u.ShardLength, ScalarType.Float32, CPU)).ToArray();
            if (pinned) _staging = Pinned(LargestShard, ScalarType.Float32);
            for (int u = 0; u < _units.Count; u++) zero.ReadShard(u, _master[u]);
        }

        private long LargestShard => _units.Max(u => u.ShardLength);

        public Tensor Values(int u, ScalarType dtype)
        {
            if (!_pinned) return dtype == ScalarType.Float32 ? _master[u] : _master[u].to(dtype);
            if (_values is null || _values.dtype != dtype)
            {
                _values?.Dispose();
                _values = Pinned(LargestShard, dtype);
            }
            var values = _values.narrow(0, 0, _units[u].ShardLength);
            values.copy_(_master[u]);
            return values;
        }

        private static Tensor Pinned(long length, ScalarType dtype)
        {
            using var pageable = empty(length, dtype, CPU);
            return pageable.pin_memory().DetachFromDisposeScope();
        }

        public unsafe void Update(int u, Tensor gradient, double gradientScale, long step, double lr)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var unit = _units[u];
            var host = HostGradient(gradient, unit.ShardLength);
            float* g = (float*)TensorMemory.Pointer(host);
            float* p = (float*)TensorMemory.Pointer(_master[u]), m = (float*)TensorMemory.Pointer(_expAvg[u]), v = (float*)TensorMemory.Pointer(_expAvgSq[u]);
            int threads = get_num_threads();
            foreach (var (slot, _, shardStart, length) in unit.SlotsInShard())
                CpuAdamW.Step(p + shardStart, g + shardStart, m + shardStart, v + shardStart, length, step, lr,
                    _settings.Beta1, _settings.Beta2, _settings.Eps, slot.NoDecay ? 0 : _settings.WeightDecay, gradientScale, threads);
        }

        // The gradient as a contiguous float32 host tensor: the staging buffer on CUDA, the tensor itself (or a copy) on the CPU.
        private Tensor HostGradient(Tensor gradient, long length)
        {
            if (_staging is not null && gradient.device.type != DeviceType.CPU)
            {
                var staged = _staging.narrow(0, 0, length);
                staged.copy_(gradient);
                return staged;
            }
            return gradient.to(ScalarType.Float32).to(CPU).contiguous();
        }

        public IReadOnlyList<KeyValuePair<string, Tensor>> StateTensors() => OptimizerStateNames.Named(_units, _master, _expAvg, _expAvgSq);

        public void Load(SafetensorsFile file) => OptimizerStateNames.Load(file, _units, _master, _expAvg, _expAvgSq);

        public void Dispose()
        {
            foreach (var t in _master.Concat(_expAvg).Concat(_expAvgSq)) t.Dispose();
            _staging?.Dispose();
            _values?.Dispose();
        }
    }
}
