using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;

namespace XTuner.Training.Tests.Kernels
{
    /// <summary>
    /// A fused kernel's CUDA source compiled for the host with g++, to run its arithmetic and indexing on CPU tensors in
    /// CI: CUDA's qualifiers become nothing, the bit casts memcpy, and the grid is one block of one thread, which a
    /// grid-stride loop walks over every element; or, through <see cref="Launcher"/>, a grid whose blocks run one after
    /// the other, each block's threads as threads, so block reductions work. The CUDA launch itself (argument packing,
    /// the stream) is the GPU check's business (<c>xtuner check-kernels</c>).
    /// </summary>
    internal static class HostKernels
    {
        // One block at a time, its threads real threads: __syncthreads is a barrier, a warp shuffle goes through a
        // shared array between two barriers (every thread of a block calls them together, as the kernels do).
        private const string Prelude = @"
#include <math.h>
#include <string.h>
#include <barrier>
#include <functional>
#include <thread>
#include <vector>
struct xt_dim3 { unsigned x; };
static xt_dim3 blockIdx = { 0 }, blockDim = { 1 }, gridDim = { 1 };
static thread_local xt_dim3 threadIdx = { 0 };
static std::barrier<>* xt_barrier;
static float xt_lanes[1024];
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __syncthreads() xt_barrier->arrive_and_wait()
static inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
static inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline float __shfl_xor_sync(unsigned, float v, int offset)
{
    xt_lanes[threadIdx.x] = v;
    xt_barrier->arrive_and_wait();
    float other = xt_lanes[threadIdx.x ^ offset];
    xt_barrier->arrive_and_wait();
    return other;
}
static void xt_run(unsigned grid, unsigned block, const std::function<void()>& body)
{
    gridDim.x = grid;
    blockDim.x = block;
    for (unsigned b = 0; b < grid; b++)
    {
        blockIdx.x = b;
        std::barrier<> barrier(block);
        xt_barrier = &barrier;
        std::vector<std::thread> threads;
        for (unsigned t = 0; t < block; t++) threads.emplace_back([&body, t] { threadIdx.x = t; body(); });
        for (auto& thread : threads) thread.join();
    }
    gridDim.x = blockDim.x = 1;
    blockIdx.x = 0;
}
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

        /// <summary>The largest difference of <paramref name="actual"/> from <paramref name="expected"/> over the largest magnitude of the latter.</summary>
        public static double Relative(TorchSharp.torch.Tensor actual, TorchSharp.torch.Tensor expected)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            var a = actual.to(TorchSharp.torch.ScalarType.Float64);
            var e = expected.to(TorchSharp.torch.ScalarType.Float64);
            return a.sub(e).abs().max().item<double>() / e.abs().max().item<double>();
        }

        /// <summary>
        /// The host build of <paramref name="source"/>'s function <paramref name="name"/>, run by the calling thread alone
        /// (a grid of one block of one thread: for grid-stride elementwise kernels).
        /// </summary>
        public static IntPtr Function(string source, string name) =>
            NativeLibrary.GetExport(Libraries.GetOrAdd(source, Build), name);

        /// <summary>
        /// A launcher of <paramref name="source"/>'s kernel <paramref name="name"/>, whose parameters are
        /// <paramref name="parameters"/> as written in the source: it takes (grid, block, those arguments) and runs every
        /// block of the grid in turn, each with <c>block</c> threads.
        /// </summary>
        public static IntPtr Launcher(string source, string name, string parameters)
        {
            var names = string.Join(", ", parameters.Split(',').Select(p => p.Trim().Split(' ', '*').Last(x => x.Length > 0)));
            var wrapped = source + $"\nextern \"C\" void xt_launch_{name}(unsigned grid, unsigned block, {parameters})\n" +
                          $"{{ xt_run(grid, block, [&] {{ {name}({names}); }}); }}\n";
            return NativeLibrary.GetExport(Libraries.GetOrAdd(wrapped, Build), "xt_launch_" + name);
        }

        private static IntPtr Build(string source)
        {
            var folder = Path.Combine(Path.GetTempPath(), "xtuner-host-kernels-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            var file = Path.Combine(folder, "kernel.cpp");
            var library = Path.Combine(folder, "kernel.so");
            File.WriteAllText(file, Prelude + source);
            // -ffp-contract=off: no fused multiply-adds, as NVRTC's rounded products (round_to) never fuse either.
            var start = new ProcessStartInfo("g++", $"-std=c++20 -O1 -ffp-contract=off -pthread -shared -fPIC -o {library} {file}")
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            using var process = Process.Start(start)!;
            string errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            try
            {
                if (process.ExitCode != 0) throw new InvalidOperationException($"g++ could not build the kernel for the host:\n{errors}");
                return NativeLibrary.Load(library);
            }
            finally
            {
                // A loaded library stays mapped after its file is gone.
                Directory.Delete(folder, recursive: true);
            }
        }
    }
}
