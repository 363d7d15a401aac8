using System;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using XTuner.Core;

namespace XTuner.Training.Kernels
{
    /// <summary>
    /// Compiled kernels through the CUDA driver API: each source is compiled once per device (NVRTC, for the device's
    /// compute capability), loaded with cuModuleLoadData into the device's primary context (the one libtorch uses), and
    /// its functions launched on stream 0, the legacy default stream libtorch computes on, so a kernel runs after the
    /// TorchSharp operations queued before it and before those queued after. The primary context is made current on
    /// every launch: backward runs on autograd threads that have never touched the driver API.
    /// </summary>
    internal static unsafe class CudaModules
    {
        private const int ComputeCapabilityMajor = 75, ComputeCapabilityMinor = 76, MultiprocessorCount = 16;

        private static readonly Lazy<IntPtr> Driver = new Lazy<IntPtr>(() =>
            NativeLibrary.TryLoad("libcuda.so.1", out var handle)
                ? handle
                : throw new XTunerException(ErrorIds.CudaUnavailable, "The NVIDIA driver library libcuda.so.1 could not be loaded: is this a GPU machine?"));

        private static readonly ConcurrentDictionary<int, IntPtr> Contexts = new ConcurrentDictionary<int, IntPtr>();
        private static readonly ConcurrentDictionary<(string Source, int Device), IntPtr> Modules = new ConcurrentDictionary<(string, int), IntPtr>();
        private static readonly ConcurrentDictionary<(IntPtr Module, string Name), IntPtr> Functions = new ConcurrentDictionary<(IntPtr, string), IntPtr>();
        private static readonly ConcurrentDictionary<int, int> Multiprocessors = new ConcurrentDictionary<int, int>();
        private static readonly object CompileLock = new object();

        /// <summary>The device's streaming multiprocessors (to size grids).</summary>
        public static int MultiprocessorsOf(int device) =>
            Multiprocessors.GetOrAdd(device, d => Attribute(MultiprocessorCount, d, "multiprocessor count"));

        /// <summary>Function <paramref name="name"/> of <paramref name="source"/> on <paramref name="device"/>, compiling and loading it the first time.</summary>
        public static IntPtr Function(string source, string kernel, string name, int device)
        {
            MakeCurrent(device, kernel);
            var module = Modules.GetOrAdd((source, device), key =>
            {
                lock (CompileLock)
                {
                    byte[] image;
                    try
                    {
                        image = Nvrtc.Compile(key.Source, kernel, Attribute(ComputeCapabilityMajor, key.Device, kernel), Attribute(ComputeCapabilityMinor, key.Device, kernel));
                    }
                    catch (InvalidOperationException e)
                    {
                        throw new XTunerException(ErrorIds.KernelFailed, $"Fused kernel {kernel} could not be built: {e.Message} Set fused_kernels: false to use the TorchSharp path.", e);
                    }
                    IntPtr loaded;
                    fixed (byte* i = image)
                        Check(((delegate* unmanaged<IntPtr*, byte*, int>)Export("cuModuleLoadData"))(&loaded, i), "cuModuleLoadData", kernel);
                    return loaded;
                }
            });
            return Functions.GetOrAdd((module, name), key =>
            {
                IntPtr function;
                var bytes = System.Text.Encoding.ASCII.GetBytes(key.Name + "\0");
                fixed (byte* n = bytes)
                    Check(((delegate* unmanaged<IntPtr*, IntPtr, byte*, int>)Export("cuModuleGetFunction"))(&function, key.Module, n), $"cuModuleGetFunction({key.Name})", kernel);
                return function;
            });
        }

        /// <summary>Launches <paramref name="function"/> on stream 0 of <paramref name="device"/> with the arguments in order.</summary>
        public static void Launch(IntPtr function, int device, string kernel, uint grid, uint block, uint sharedBytes, ReadOnlySpan<KernelArgument> arguments)
        {
            MakeCurrent(device, kernel);
            var values = stackalloc ulong[arguments.Length];
            var pointers = stackalloc void*[arguments.Length];
            for (int i = 0; i < arguments.Length; i++)
            {
                values[i] = arguments[i].Bits;
                pointers[i] = values + i;
            }
            var launch = (delegate* unmanaged<IntPtr, uint, uint, uint, uint, uint, uint, uint, IntPtr, void**, void**, int>)Export("cuLaunchKernel");
            Check(launch(function, grid, 1, 1, block, 1, 1, sharedBytes, IntPtr.Zero, pointers, null), "cuLaunchKernel", kernel);
        }

        internal static void MakeCurrent(int device, string kernel) =>
            MakeCurrent(device, "Fused kernel " + kernel, "Set fused_kernels: false to use the TorchSharp path.");

        /// <summary>Makes <paramref name="device"/>'s primary context current; a failure reads "<paramref name="what"/>: CALL failed ... <paramref name="advice"/>".</summary>
        internal static void MakeCurrent(int device, string what, string advice)
        {
            var context = Contexts.GetOrAdd(device, d =>
            {
                Check(((delegate* unmanaged<uint, int>)Export("cuInit"))(0), "cuInit", what, advice);
                int handle;
                Check(((delegate* unmanaged<int*, int, int>)Export("cuDeviceGet"))(&handle, d), $"cuDeviceGet({d})", what, advice);
                IntPtr primary;
                Check(((delegate* unmanaged<IntPtr*, int, int>)Export("cuDevicePrimaryCtxRetain"))(&primary, handle), "cuDevicePrimaryCtxRetain", what, advice);
                return primary;
            });
            Check(((delegate* unmanaged<IntPtr, int>)Export("cuCtxSetCurrent"))(context), "cuCtxSetCurrent", what, advice);
        }

        private static int Attribute(int attribute, int device, string kernel)
        {
            Check(((delegate* unmanaged<uint, int>)Export("cuInit"))(0), "cuInit", kernel);
            int handle, value;
            Check(((delegate* unmanaged<int*, int, int>)Export("cuDeviceGet"))(&handle, device), $"cuDeviceGet({device})", kernel);
            Check(((delegate* unmanaged<int*, int, int, int>)Export("cuDeviceGetAttribute"))(&value, attribute, handle), "cuDeviceGetAttribute", kernel);
            return value;
        }

        internal static IntPtr Export(string name) => NativeLibrary.GetExport(Driver.Value, name);

        internal static void Check(int result, string call, string kernel) =>
            Check(result, call, "Fused kernel " + kernel, "Set fused_kernels: false to use the TorchSharp path.");

        /// <summary>Throws <see cref="ErrorIds.KernelFailed"/> for a failed driver call: "<paramref name="what"/>: CALL failed with ... <paramref name="advice"/>".</summary>
        internal static void Check(int result, string call, string what, string advice)
        {
            if (result == 0) return;
            byte* text = null;
            ((delegate* unmanaged<int, byte**, int>)Export("cuGetErrorString"))(result, &text);
            var message = text != null ? Marshal.PtrToStringUTF8((IntPtr)text) : null;
            throw new XTunerException(ErrorIds.KernelFailed,
                $"{what}: {call} failed with CUDA driver error {result}{(message != null ? ", " + message : "")}. {advice}");
        }
    }

    /// <summary>One kernel argument as the driver reads it: a device pointer, a 64-bit or a 32-bit value, in the low bytes of a 64-bit slot.</summary>
    internal readonly struct KernelArgument
    {
        private KernelArgument(ulong bits) => Bits = bits;

        public ulong Bits { get; }

        public static implicit operator KernelArgument(IntPtr pointer) => new KernelArgument((ulong)pointer.ToInt64());

        public static implicit operator KernelArgument(long value) => new KernelArgument((ulong)value);

        public static implicit operator KernelArgument(int value) => new KernelArgument((uint)value);

        public static implicit operator KernelArgument(float value) => new KernelArgument((uint)BitConverter.SingleToInt32Bits(value));
    }
}
