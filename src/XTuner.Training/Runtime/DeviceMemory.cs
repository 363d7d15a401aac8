using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;

namespace XTuner.Training.Runtime
{
    /// <summary>
    /// Peak memory of this rank, in GiB. CUDA: device memory in use (cudaMemGetInfo: total - free), sampled at step
    /// phase boundaries, since TorchSharp exposes no allocator statistics; it includes the caching allocator's reserve,
    /// like torch.cuda.max_memory_reserved. CPU: the process's peak resident set (VmHWM).
    /// </summary>
    public sealed class DeviceMemory
    {
        private delegate int CudaMemGetInfo(out UIntPtr free, out UIntPtr total);

        private readonly CudaMemGetInfo? _memGetInfo;
        private double _peakGib;

        public DeviceMemory(bool cuda)
        {
            if (!cuda) return;
            foreach (var name in new[] { "libcudart.so.13", "libcudart.so.12", "libcudart.so" })
            {
                if (NativeLibrary.TryLoad(name, out var handle) && NativeLibrary.TryGetExport(handle, "cudaMemGetInfo", out var fn))
                {
                    _memGetInfo = Marshal.GetDelegateForFunctionPointer<CudaMemGetInfo>(fn);
                    break;
                }
            }
        }

        /// <summary>Reads current usage and updates the peak.</summary>
        public void Sample()
        {
            double now;
            if (_memGetInfo != null)
            {
                if (_memGetInfo(out var free, out var total) != 0) return;
                now = ((double)total.ToUInt64() - free.ToUInt64()) / (1L << 30);
            }
            else
            {
                now = ResidentPeakGib();
            }
            if (now > _peakGib) _peakGib = now;
        }

        public double PeakGib
        {
            get
            {
                Sample();
                return _peakGib;
            }
        }

        /// <summary>VmHWM of this process (Linux), GiB.</summary>
        public static double ResidentPeakGib()
        {
            try
            {
                var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
                if (line == null) return 0;
                var kb = long.Parse(line.Substring(6).Trim().Split(' ')[0]);
                return kb / (1024.0 * 1024.0);
            }
            catch (IOException)
            {
                return 0;
            }
        }
    }
}
