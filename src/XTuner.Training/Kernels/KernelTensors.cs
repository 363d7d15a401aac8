using System;
using TorchSharp;
using static TorchSharp.torch;

namespace XTuner.Training.Kernels
{
    /// <summary>What a kernel needs of its tensors: float32 or bf16, contiguous, on one CUDA device.</summary>
    internal static class KernelTensors
    {
        /// <summary>The element types the kernels are compiled for.</summary>
        public static bool Supported(ScalarType dtype) => dtype == ScalarType.Float32 || dtype == ScalarType.BFloat16;

        /// <summary>The suffix of the kernel instance for <paramref name="dtype"/>: f32 or bf16.</summary>
        public static string Suffix(ScalarType dtype) => dtype switch
        {
            ScalarType.Float32 => "f32",
            ScalarType.BFloat16 => "bf16",
            _ => throw new ArgumentException($"The fused kernels take float32 or bfloat16 tensors, not {dtype}."),
        };

        /// <summary>The CUDA device index of <paramref name="t"/>, after checking it is contiguous and of <paramref name="dtype"/>.</summary>
        public static int Device(Tensor t, ScalarType dtype, string kernel)
        {
            if (t.device.type != DeviceType.CUDA || t.dtype != dtype || !t.is_contiguous())
                throw new ArgumentException($"The {kernel} kernel takes contiguous {dtype} CUDA tensors; got {t.dtype} [{string.Join(", ", t.shape)}] on {t.device}{(t.is_contiguous() ? "" : ", not contiguous")}.");
            return t.device.index < 0 ? 0 : t.device.index;
        }

        /// <summary>Blocks for a grid-stride loop over <paramref name="n"/> elements.</summary>
        public static uint Blocks(long n, int threads, int device) =>
            (uint)Math.Max(1, Math.Min((n + threads - 1) / threads, CudaModules.MultiprocessorsOf(device) * 16L));
    }
}
