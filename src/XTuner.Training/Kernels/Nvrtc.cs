using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using XTuner.Core.Launch;

namespace XTuner.Training.Kernels
{
    /// <summary>
    /// CUDA's run-time compiler, libnvrtc, loaded from where PyTorch's CUDA wheels or a CUDA toolkit put it, so the
    /// fused kernels need no build step and no toolkit beyond what a PyTorch install already has. Sources are compiled
    /// for the device's own architecture to a CUBIN (PTX where this NVRTC cannot emit one).
    /// </summary>
    internal static unsafe class Nvrtc
    {
        /// <summary>The sonames tried, newest first.</summary>
        internal static readonly string[] Names = { "libnvrtc.so.13", "libnvrtc.so.12" };

        private static readonly Lazy<(IntPtr Handle, string? Path, string Error)> Library = new Lazy<(IntPtr, string?, string)>(Load);

        /// <summary>
        /// Where libnvrtc is looked for, in order: each soname beside a PyTorch's CUDA wheels
        /// (<c>XTUNER_LIBTORCH_DIR/../../nvidia/cu13/lib</c>, then <c>cu12</c> and <c>cuda_nvrtc/lib</c> for older wheels),
        /// then <c>/usr/local/cuda/lib64</c>, <c>/usr/local/cuda-13.0/lib64</c>, and last the plain name for the loader's
        /// own search (LD_LIBRARY_PATH, ldconfig).
        /// </summary>
        internal static IReadOnlyList<string> Candidates(string? libtorchDir)
        {
            var folders = new List<string>();
            if (!string.IsNullOrWhiteSpace(libtorchDir))
            {
                var sitePackages = Path.GetFullPath(Path.Combine(libtorchDir!, "..", ".."));
                folders.Add(Path.Combine(sitePackages, "nvidia", "cu13", "lib"));
                folders.Add(Path.Combine(sitePackages, "nvidia", "cu12", "lib"));
                folders.Add(Path.Combine(sitePackages, "nvidia", "cuda_nvrtc", "lib"));
            }
            folders.Add("/usr/local/cuda/lib64");
            folders.Add("/usr/local/cuda-13.0/lib64");
            var candidates = new List<string>();
            foreach (var name in Names)
                foreach (var folder in folders)
                    candidates.Add(Path.Combine(folder, name));
            candidates.AddRange(Names);
            return candidates;
        }

        /// <summary>Whether libnvrtc loaded; <paramref name="reason"/> says where it was found, or where it was looked for.</summary>
        public static bool TryLoad(out string reason)
        {
            var (handle, path, error) = Library.Value;
            reason = handle != IntPtr.Zero ? path! : error;
            return handle != IntPtr.Zero;
        }

        private static (IntPtr, string?, string) Load()
        {
            var candidates = Candidates(Environment.GetEnvironmentVariable(PythonTorch.LibTorchDirVariable));
            foreach (var candidate in candidates)
            {
                // A path that is not there would only fail more slowly inside the loader.
                if (candidate.Contains('/') && !File.Exists(candidate)) continue;
                // NVRTC opens its builtins library by soname; a wheel's copy sits beside it, off the loader's path.
                if (candidate.Contains('/'))
                    foreach (var builtins in Directory.EnumerateFiles(Path.GetDirectoryName(candidate)!, "libnvrtc-builtins.so*").OrderByDescending(f => f.Length))
                        if (NativeLibrary.TryLoad(builtins, out _)) break;
                if (NativeLibrary.TryLoad(candidate, out var handle)) return (handle, candidate, "");
            }
            return (IntPtr.Zero, null, "libnvrtc.so.13 or .12 not found (looked beside XTUNER_LIBTORCH_DIR's PyTorch, in /usr/local/cuda/lib64, " +
                "/usr/local/cuda-13.0/lib64 and on the library path)");
        }

        /// <summary>
        /// Compiles <paramref name="source"/> for compute capability <paramref name="major"/>.<paramref name="minor"/>;
        /// returns a CUBIN, or PTX where this NVRTC makes none. A compile error throws with NVRTC's log.
        /// </summary>
        public static byte[] Compile(string source, string name, int major, int minor)
        {
            var (handle, _, error) = Library.Value;
            if (handle == IntPtr.Zero) throw new InvalidOperationException(error);
            return Compile(handle, source, name, major, minor);
        }

        /// <summary><see cref="Compile(string, string, int, int)"/> with the NVRTC library <paramref name="handle"/> (tests load one of their own).</summary>
        internal static byte[] Compile(IntPtr handle, string source, string name, int major, int minor)
        {
            var create = (delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int>)NativeLibrary.GetExport(handle, "nvrtcCreateProgram");
            var compile = (delegate* unmanaged<IntPtr, int, byte**, int>)NativeLibrary.GetExport(handle, "nvrtcCompileProgram");
            var destroy = (delegate* unmanaged<IntPtr*, int>)NativeLibrary.GetExport(handle, "nvrtcDestroyProgram");
            var logSize = (delegate* unmanaged<IntPtr, nuint*, int>)NativeLibrary.GetExport(handle, "nvrtcGetProgramLogSize");
            var getLog = (delegate* unmanaged<IntPtr, byte*, int>)NativeLibrary.GetExport(handle, "nvrtcGetProgramLog");
            IntPtr program;
            var sourceBytes = Utf8(source);
            var nameBytes = Utf8(name + ".cu");
            fixed (byte* s = sourceBytes, n = nameBytes)
                Check(handle, create(&program, s, n, 0, null, null), "nvrtcCreateProgram", name);
            try
            {
                var options = new[] { Utf8($"--gpu-architecture=sm_{major}{minor}"), Utf8("--std=c++17") };
                var handles = new GCHandle[options.Length];
                var pointers = stackalloc byte*[options.Length];
                for (int i = 0; i < options.Length; i++)
                {
                    handles[i] = GCHandle.Alloc(options[i], GCHandleType.Pinned);
                    pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
                }
                int result;
                try
                {
                    result = compile(program, options.Length, pointers);
                }
                finally
                {
                    foreach (var h in handles) h.Free();
                }
                if (result != 0)
                {
                    nuint size;
                    logSize(program, &size);
                    var log = new byte[(int)size];
                    fixed (byte* l = log) getLog(program, l);
                    throw new InvalidOperationException($"NVRTC could not compile {name} for sm_{major}{minor} ({ErrorString(handle, result)}):\n" +
                        Encoding.UTF8.GetString(log).TrimEnd('\0', '\n'));
                }
                return Output(handle, program, "nvrtcGetCUBINSize", "nvrtcGetCUBIN", name) ?? Output(handle, program, "nvrtcGetPTXSize", "nvrtcGetPTX", name)
                    ?? throw new InvalidOperationException($"NVRTC produced neither a CUBIN nor PTX for {name}.");
            }
            finally
            {
                destroy(&program);
            }
        }

        // The CUBIN or PTX of a compiled program, or null when there is none (or this NVRTC lacks the call).
        private static byte[]? Output(IntPtr handle, IntPtr program, string sizeCall, string getCall, string name)
        {
            if (!NativeLibrary.TryGetExport(handle, sizeCall, out var sizeExport) || !NativeLibrary.TryGetExport(handle, getCall, out var getExport)) return null;
            nuint size;
            if (((delegate* unmanaged<IntPtr, nuint*, int>)sizeExport)(program, &size) != 0 || size == 0) return null;
            var image = new byte[(int)size];
            fixed (byte* i = image)
                Check(handle, ((delegate* unmanaged<IntPtr, byte*, int>)getExport)(program, i), getCall, name);
            return image;
        }

        private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text + "\0");

        private static void Check(IntPtr handle, int result, string call, string name)
        {
            if (result != 0) throw new InvalidOperationException($"{call} failed for {name}: {ErrorString(handle, result)}.");
        }

        private static string ErrorString(IntPtr handle, int result)
        {
            var getErrorString = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(handle, "nvrtcGetErrorString");
            var text = getErrorString(result);
            return text != null ? $"NVRTC error {result}, {Marshal.PtrToStringUTF8((IntPtr)text)}" : $"NVRTC error {result}";
        }
    }
}
