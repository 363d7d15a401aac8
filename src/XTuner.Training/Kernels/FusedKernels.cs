using TorchSharp;
using XTuner.Core;
using XTuner.Core.Configuration;

namespace XTuner.Training.Kernels
{
    /// <summary>
    /// Whether this process runs the fused CUDA kernels (<c>fused_kernels</c>): decided once per rank process, before the
    /// model is built, and read by each op that has a kernel. CUDA only; elsewhere and when off, the TorchSharp ops run.
    /// </summary>
    public static class FusedKernels
    {
        /// <summary>The kernels replace the TorchSharp ops on CUDA tensors.</summary>
        public static bool Enabled { get; internal set; }

        /// <summary>
        /// Whether <paramref name="mode"/> turns the kernels on for <paramref name="device"/>, and the one line to show
        /// when auto cannot (null when there is nothing to say). true where they cannot run is
        /// <see cref="ErrorIds.FusedKernelsUnavailable"/>.
        /// </summary>
        public static (bool Use, string? Note) Decide(FusedKernelsMode mode, DeviceType device)
        {
            if (mode == FusedKernelsMode.Off) return (false, null);
            if (device != DeviceType.CUDA)
            {
                if (mode == FusedKernelsMode.On)
                    throw new XTunerException(ErrorIds.FusedKernelsUnavailable,
                        "fused_kernels: true needs device: cuda (the kernels are CUDA kernels); set fused_kernels: auto or false to train on the CPU.");
                return (false, null);
            }
            if (Nvrtc.TryLoad(out var reason)) return (true, null);
            if (mode == FusedKernelsMode.On)
                throw new XTunerException(ErrorIds.FusedKernelsUnavailable,
                    $"fused_kernels: true needs CUDA's run-time compiler: {reason}. Install PyTorch's CUDA wheels (nvidia-cuda-nvrtc) or a CUDA toolkit, point XTUNER_LIBTORCH_DIR at that PyTorch's torch/lib, or set fused_kernels: auto or false.");
            return (false, $"fused kernels off, the TorchSharp path runs: {reason}");
        }

        /// <summary>Whether CUDA's run-time compiler loads; <paramref name="reason"/> is where it was found, or where it was looked for.</summary>
        public static bool CompilerAvailable(out string reason) => Nvrtc.TryLoad(out reason);

        /// <summary>Applies <see cref="Decide"/> to this process; returns the note to show, if any.</summary>
        public static string? Configure(FusedKernelsMode mode, DeviceType device)
        {
            var (use, note) = Decide(mode, device);
            Enabled = use;
            return note;
        }

        /// <summary>The kernels run for a tensor on <paramref name="device"/>.</summary>
        internal static bool For(torch.Device device) => Enabled && device.type == DeviceType.CUDA;
    }
}
