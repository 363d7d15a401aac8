using System;
using System.Runtime.InteropServices;
using System.Text;

namespace XTuner.Training.Runtime
{
    /// <summary>
    /// The GPU memory this process holds on one device, from NVML's per-process accounting (libnvidia-ml.so.1, which
    /// ships with every NVIDIA driver): unlike cudaMemGetInfo it leaves out other processes, the ranks sharing the GPU
    /// among them. The device is found by its PCI bus id, so CUDA_VISIBLE_DEVICES's renumbering does not matter.
    /// </summary>
    internal sealed class NvmlProcessMemory
    {
        private const int Success = 0;
        private const int InsufficientSize = 7;

        [StructLayout(LayoutKind.Sequential)]
        private struct ProcessInfo
        {
            public uint Pid;
            public ulong UsedGpuMemory;
            public uint GpuInstanceId;
            public uint ComputeInstanceId;
        }

        private delegate int NvmlInit();

        private delegate int HandleByPciBusId([MarshalAs(UnmanagedType.LPStr)] string busId, out IntPtr device);

        private delegate int RunningProcesses(IntPtr device, ref uint count, [Out] ProcessInfo[]? infos);

        private delegate int CudaPciBusId(byte[] busId, int length, int device);

        private readonly RunningProcesses _processes;
        private readonly IntPtr _device;
        private readonly uint _pid;
        private ProcessInfo[] _buffer = new ProcessInfo[16];

        private NvmlProcessMemory(RunningProcesses processes, IntPtr device)
        {
            _processes = processes;
            _device = device;
            _pid = (uint)Environment.ProcessId;
        }

        /// <summary>The reader for CUDA device <paramref name="cudaIndex"/>, or null with <paramref name="why"/> when NVML cannot give one.</summary>
        public static NvmlProcessMemory? TryOpen(IntPtr cudart, int cudaIndex, out string? why)
        {
            why = null;
            if (!NativeLibrary.TryLoad("libnvidia-ml.so.1", out var nvml) && !NativeLibrary.TryLoad("nvml.dll", out nvml))
            {
                why = "libnvidia-ml.so.1 did not load";
                return null;
            }
            var init = Export<NvmlInit>(nvml, "nvmlInit_v2");
            var byBusId = Export<HandleByPciBusId>(nvml, "nvmlDeviceGetHandleByPciBusId_v2");
            var processes = Export<RunningProcesses>(nvml, "nvmlDeviceGetComputeRunningProcesses_v3") ??
                            Export<RunningProcesses>(nvml, "nvmlDeviceGetComputeRunningProcesses_v2");
            var busIdOf = Export<CudaPciBusId>(cudart, "cudaDeviceGetPCIBusId");
            if (init == null || byBusId == null || processes == null || busIdOf == null)
            {
                why = "the driver's NVML or the CUDA runtime lacks a function it needs";
                return null;
            }
            var bytes = new byte[64];
            int status;
            if ((status = init()) != Success || (status = busIdOf(bytes, bytes.Length, cudaIndex)) != Success)
            {
                why = $"NVML or CUDA answered {status}";
                return null;
            }
            int end = Array.IndexOf(bytes, (byte)0);
            var busId = Encoding.ASCII.GetString(bytes, 0, end < 0 ? bytes.Length : end);
            if ((status = byBusId(busId, out var device)) != Success)
            {
                why = $"NVML does not know the GPU at {busId} ({status})";
                return null;
            }
            return new NvmlProcessMemory(processes, device);
        }

        /// <summary>
        /// This process's bytes on the device; null when NVML does not list it (inside a container's PID namespace NVML
        /// reports the host's pids) or cannot say (NVML_VALUE_NOT_AVAILABLE).
        /// </summary>
        public ulong? Bytes()
        {
            for (int attempt = 0; attempt < 3; attempt++)
            {
                uint count = (uint)_buffer.Length;
                int status = _processes(_device, ref count, _buffer);
                if (status == InsufficientSize)
                {
                    _buffer = new ProcessInfo[Math.Max(count, (uint)_buffer.Length) * 2];
                    continue;
                }
                if (status != Success) return null;
                for (int i = 0; i < count; i++)
                {
                    if (_buffer[i].Pid != _pid) continue;
                    return _buffer[i].UsedGpuMemory == ulong.MaxValue ? (ulong?)null : _buffer[i].UsedGpuMemory;
                }
                return null;
            }
            return null;
        }

        private static T? Export<T>(IntPtr library, string name) where T : Delegate =>
            NativeLibrary.TryGetExport(library, name, out var fn) ? Marshal.GetDelegateForFunctionPointer<T>(fn) : null;
    }
}
