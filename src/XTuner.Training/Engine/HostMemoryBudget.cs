using System;
using System.Globalization;
using System.IO;
using System.Linq;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Core.Planning;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// What offload will hold in this rank's host memory, checked against what the machine has before anything is
    /// allocated: a run that cannot fit is refused with the bytes needed and available, not killed by the kernel later.
    /// </summary>
    public static class HostMemoryBudget
    {
        private const double Gib = 1L << 30;

        /// <summary>Host bytes this rank's optimizer offload holds: float32 master, two moments and a staging buffer.</summary>
        public static long OptimizerBytes(ModelSpec spec, int shards) => OffloadBytes.Optimizer(spec, shards);

        /// <summary>Host bytes one offloaded layer holds on this rank: its checkpointed input for one micro-batch.</summary>
        public static long ActivationBytesPerLayer(XTunerConfig config, ModelSpec spec, int elementSize) =>
            OffloadBytes.ActivationsPerLayer(config, spec, elementSize);

        /// <summary>
        /// offload_activations: auto: the layers whose inputs fit in this rank's share of the available memory beside
        /// <paramref name="optimizerBytes"/>, keeping a tenth of it free for everything else the process holds.
        /// </summary>
        public static int LayersThatFit(long optimizerBytes, long bytesPerLayer, int localRanks)
        {
            if (bytesPerLayer <= 0 || !(AvailableBytes() is long available)) return 0;
            long room = (long)(available * 0.9) / Math.Max(1, localRanks) - optimizerBytes;
            return room <= 0 ? 0 : (int)Math.Min(int.MaxValue, room / bytesPerLayer);
        }

        /// <summary>
        /// Refuses offload that this machine's available memory (MemAvailable, shared by its <paramref name="localRanks"/>
        /// ranks) cannot hold. Does nothing where the figure cannot be read.
        /// </summary>
        public static void Check(long optimizerBytes, long activationBytes, int localRanks)
        {
            long needed = optimizerBytes + activationBytes;
            if (needed == 0 || !(AvailableBytes() is long available)) return;
            long perRank = available / Math.Max(1, localRanks);
            if (needed <= perRank) return;
            var parts = string.Join(" + ", new[] { (optimizerBytes, "optimizer states"), (activationBytes, "activations") }
                .Where(p => p.Item1 > 0).Select(p => string.Format(CultureInfo.InvariantCulture, "{0:F1} GiB of {1}", p.Item1 / Gib, p.Item2)));
            throw new XTunerException(ErrorIds.OutOfHostMemory, string.Format(CultureInfo.InvariantCulture,
                "Offload needs {0:F1} GiB of host memory per rank ({1}), but this machine has {2:F1} GiB available for each of its {3} rank(s). " +
                "Turn offload_activations off (or shorten max_length), shard the optimizer over more ranks (zero_stage 1-3 with more GPUs), or use a machine with more memory.",
                needed / Gib, parts, perRank / Gib, localRanks));
        }

        /// <summary>MemAvailable from /proc/meminfo, or null where there is none.</summary>
        public static long? AvailableBytes()
        {
            try
            {
                var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal));
                if (line == null) return null;
                return long.Parse(line.Substring("MemAvailable:".Length).Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
            catch (IOException)
            {
                return null;
            }
        }
    }
}
