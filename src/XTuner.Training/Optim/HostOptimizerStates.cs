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
    /// <c>offload_optimizer</c>: this rank's float32 master shard and both moments in host memory (pinned when the
    /// model is on CUDA), updated on the CPU by <see cref="CpuAdamW"/> on the rank's CPU threads. Each unit's gradient
    /// shard comes to a pinned staging buffer in one DMA copy; the updated master goes back through the ZeRO strategy,
    /// which casts it into the parameters (or their shard) on the device.
    /// </summary>
    public sealed class HostOptimizerStates : IOptimizerStates
    {
        private readonly IReadOnlyList<ParameterUnit> _units;
        private readonly OptimizerSettings _settings;
        private readonly Tensor[] _master, _expAvg, _expAvgSq;
        private readonly Tensor? _staging;

        /// <param name="zero">The strategy whose shards these states hold; the master starts as its parameters' values.</param>
        /// <param name="settings">AdamW's settings.</param>
        /// <param name="pinned">Page-lock the states and the staging buffer (CUDA only: pinning needs a CUDA context).</param>
        public HostOptimizerStates(IZeroStrategy zero, OptimizerSettings settings, bool pinned)
        {
            _units = zero.Units;
            _settings = settings;
            Tensor Host(long length)
            {
                var t = zeros(length, ScalarType.Float32, CPU);
                if (!pinned) return t;
                using (t) return t.pin_memory();
            }
            _master = _units.Select(u => Host(u.ShardLength)).ToArray();
            _expAvg = _units.Select(u => Host(u.ShardLength)).ToArray();
            _expAvgSq = _units.Select(u => Host(u.ShardLength)).ToArray();
            if (pinned) _staging = Host(_units.Max(u => u.ShardLength));
            for (int u = 0; u < _units.Count; u++) zero.ReadShard(u, _master[u]);
        }

        /// <summary>Bytes these states hold in host memory (master, moments and the staging buffer).</summary>
        public long HostBytes => _master.Concat(_expAvg).Concat(_expAvgSq).Append(_staging).Sum(t => t is null ? 0 : t.numel() * 4);

        public Tensor Master(int u) => _master[u];

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
        }
    }
}
