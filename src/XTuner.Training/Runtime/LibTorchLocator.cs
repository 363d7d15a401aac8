using System;
using System.IO;
using System.Runtime.InteropServices;
using XTuner.Core;
using XTuner.Core.Launch;

namespace XTuner.Training.Runtime
{
    /// <summary>
    /// Finds a CUDA build of libtorch for TorchSharp: the app's own (TorchSharp-cuda-linux package), or an existing
    /// PyTorch install's <c>torch/lib</c> (<c>XTUNER_LIBTORCH_DIR</c>, else asked of <c>python3</c>). A PyTorch install is
    /// preloaded by full path before TorchSharp loads its shim, so the shim's libtorch/libc10 dependencies bind to the
    /// CUDA libraries already in the process (the loader matches them by soname) rather than to a CPU copy beside the app.
    /// </summary>
    public static class LibTorchLocator
    {
        public const string EnvironmentVariable = PythonTorch.LibTorchDirVariable;

        /// <summary>Load order: each library's dependencies come before it.</summary>
        private static readonly string[] CudaLibraries = { "libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so" };

        private static string? _loadedFrom;

        /// <summary>The folder of a CUDA libtorch, or null: XTUNER_LIBTORCH_DIR, then python3's torch.</summary>
        public static string? FindCudaLibTorch()
        {
            var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrEmpty(fromEnv))
            {
                if (!File.Exists(Path.Combine(fromEnv, "libtorch_cuda.so")))
                    throw new XTunerException(ErrorIds.InvalidConfig, $"{EnvironmentVariable}={fromEnv} holds no libtorch_cuda.so; point it at a CUDA PyTorch's torch/lib folder.");
                return fromEnv;
            }
            return PythonTorch.FindCudaLibTorch();
        }

        /// <summary>The app folder already carries a CUDA libtorch (TorchSharp-cuda-linux).</summary>
        public static bool AppHasCudaLibTorch() =>
            File.Exists(Path.Combine(AppContext.BaseDirectory, "libtorch_cuda.so")) ||
            File.Exists(Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libtorch_cuda.so"));

        /// <summary>Makes CUDA available to TorchSharp, or explains what is missing.</summary>
        public static void PrepareCuda()
        {
            if (_loadedFrom != null || AppHasCudaLibTorch()) return;
            var dir = FindCudaLibTorch() ?? throw new XTunerException(ErrorIds.InvalidConfig,
                "device cuda needs a CUDA libtorch and none was found. Set XTUNER_LIBTORCH_DIR to a CUDA PyTorch's torch/lib folder " +
                "(python3 -c \"import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))\"), " +
                "or build the worker with the TorchSharp-cuda-linux package.");
            foreach (var lib in CudaLibraries)
            {
                var path = Path.Combine(dir, lib);
                if (!File.Exists(path)) continue;
                try
                {
                    NativeLibrary.Load(path);
                }
                catch (DllNotFoundException e)
                {
                    throw new XTunerException(ErrorIds.InvalidConfig, $"Could not load {path}: {e.Message}", e);
                }
            }
            _loadedFrom = dir;
        }
    }
}
