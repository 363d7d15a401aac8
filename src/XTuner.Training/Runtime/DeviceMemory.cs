using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;

namespace XTuner.Training.Runtime
{
    /// <summary>
    /// Peak memory of this rank, in GiB, sampled at step phase boundaries (TorchSharp exposes no allocator
    /// statistics). CUDA: this process's own use from NVML (<see cref="NvmlProcessMemory"/>: what ranks sharing a GPU
    /// each hold), and the device's memory in use (cudaMemGetInfo: total - free, every process on it) beside it; both
    /// include the caching allocator's reserve, like torch.cuda.max_memory_reserved. CPU: the process's peak resident
    /// set (VmHWM).
    /// </summary>
    public sealed class DeviceMemory
    {
        private delegate int CudaMemGetInfo(out UIntPtr free, out UIntPtr total);

        private readonly CudaMemGetInfo? _memGetInfo;
        private readonly NvmlProcessMemory? _process;
        private double _peakGib;
        private double _devicePeakGib;

        /// <param name="cudaIndex">The rank's CUDA device, or null on the CPU.</param>
        public DeviceMemory(int? cudaIndex)
        {
            if (cudaIndex is not int index) return;
            foreach (var name in new[] { "libcudart.so.13", "libcudart.so.12", "libcudart.so" })
            {
                if (NativeLibrary.TryLoad(name, out var cudart) && NativeLibrary.TryGetExport(cudart, "cudaMemGetInfo", out var fn))
                {
                    _memGetInfo = Marshal.GetDelegateForFunctionPointer<CudaMemGetInfo>(fn);
                    _process = NvmlProcessMemory.TryOpen(cudart, index, out var why);
                    if (_process == null) Unavailable = why;
                    break;
                }
            }
        }

        /// <summary>Why the per-process figure is missing on CUDA (and <see cref="PeakGib"/> is the device's); null when it is there.</summary>
        public string? Unavailable { get; private set; }

        /// <summary>The device's free memory now (cudaMemGetInfo), or null on the CPU or where the CUDA runtime cannot tell.</summary>
        public double? FreeBytes() => _memGetInfo != null && _memGetInfo(out var free, out _) == 0 ? free.ToUInt64() : (double?)null;

        /// <summary>Reads current usage and updates the peaks.</summary>
        public void Sample()
        {
            if (_memGetInfo == null)
            {
                _peakGib = Math.Max(_peakGib, ResidentPeakGib());
                return;
            }
            if (_memGetInfo(out var free, out var total) != 0) return;
            double device = ((double)total.ToUInt64() - free.ToUInt64()) / (1L << 30);
            _devicePeakGib = Math.Max(_devicePeakGib, device);
            if (_process?.Bytes() is ulong bytes) _peakGib = Math.Max(_peakGib, (double)bytes / (1L << 30));
            else if (_process != null) Unavailable ??= "NVML does not list this process (inside a container NVML reports the host's process ids)";
            if (Unavailable != null) _peakGib = _devicePeakGib;
        }

        /// <summary>This rank's peak: its own GPU memory on CUDA (the device's when NVML cannot tell), its resident set on the CPU.</summary>
        public double PeakGib
        {
            get
            {
                Sample();
                return _peakGib;
            }
        }

        /// <summary>The device's peak memory in use, every process on it counted (CUDA); null on the CPU.</summary>
        public double? DevicePeakGib => _memGetInfo == null ? (double?)null : _devicePeakGib;

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
