using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;

namespace XTuner.Training.Tests.Kernels
{
    /// <summary>
    /// A fused kernel's CUDA source compiled for the host with g++, to run its arithmetic and indexing on CPU tensors in
    /// CI: CUDA's qualifiers become nothing, the bit casts memcpy, and the grid is one block of one thread, which a
    /// grid-stride loop walks over every element. Only for elementwise kernels (the block reductions' shuffles are stubs
    /// here). The CUDA launch itself (arguments, stream) is the GPU check's business (<c>xtuner check-kernels</c>).
    /// </summary>
    internal static class HostKernels
    {
        private const string Prelude = @"
#include <math.h>
#include <string.h>
struct xt_dim3 { unsigned x; };
static const xt_dim3 blockIdx = { 0 }, threadIdx = { 0 }, blockDim = { 1 }, gridDim = { 1 };
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __syncthreads()
static inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
static inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
static inline float __shfl_xor_sync(unsigned, float v, int) { return v; }
";

        private static readonly ConcurrentDictionary<string, IntPtr> Libraries = new ConcurrentDictionary<string, IntPtr>();

        /// <summary>Whether g++ is here (CI installs it: .ci/kernel-tools-setup.sh).</summary>
        public static bool CompilerAvailable => File.Exists("/usr/bin/g++");

        /// <summary>Whether a test can build kernels for the host; under CI a missing g++ fails the test instead.</summary>
        public static bool Ready()
        {
            Xunit.Assert.True(CompilerAvailable || Environment.GetEnvironmentVariable("CI") != "true",
                "CI runs .ci/kernel-tools-setup.sh: g++ should be installed.");
            return CompilerAvailable;
        }

        /// <summary>The host build of <paramref name="source"/>'s function <paramref name="name"/>.</summary>
        public static IntPtr Function(string source, string name) =>
            NativeLibrary.GetExport(Libraries.GetOrAdd(source, Build), name);

        private static IntPtr Build(string source)
        {
            var folder = Path.Combine(Path.GetTempPath(), "xtuner-host-kernels-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            var file = Path.Combine(folder, "kernel.cpp");
            var library = Path.Combine(folder, "kernel.so");
            File.WriteAllText(file, Prelude + source);
            // -ffp-contract=off: no fused multiply-adds, as NVRTC's rounded products (round_to) never fuse either.
            var start = new ProcessStartInfo("g++", $"-O1 -ffp-contract=off -shared -fPIC -o {library} {file}")
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            using var process = Process.Start(start)!;
            string errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0) throw new InvalidOperationException($"g++ could not build the kernel for the host:\n{errors}");
            return NativeLibrary.Load(library);
        }
    }
}
