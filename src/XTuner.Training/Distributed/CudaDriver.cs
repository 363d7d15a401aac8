using System;
using System.Runtime.InteropServices;
using XTuner.Core;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// Selects the calling thread's CUDA device, which TorchSharp cannot do (it has no torch.cuda.set_device):
    /// ncclCommInitRank binds a communicator to the thread's current device. Making the device's primary context
    /// current through the driver API is what cudaSetDevice does, and every CUDA runtime in the process (libtorch's,
    /// the copy linked into NCCL) then reports that device. The driver library, libcuda.so.1, comes with the NVIDIA
    /// driver, so this needs no particular CUDA runtime version.
    /// </summary>
    internal static unsafe class CudaDriver
    {
        private static readonly Lazy<IntPtr> Library = new Lazy<IntPtr>(() =>
            NativeLibrary.TryLoad("libcuda.so.1", out var handle)
                ? handle
                : throw new XTunerException(ErrorIds.CudaUnavailable, "The NVIDIA driver library libcuda.so.1 could not be loaded: is this a GPU machine?"));

        public static void SetCurrentDevice(int index)
        {
            var init = (delegate* unmanaged<uint, int>)Export("cuInit");
            var deviceGet = (delegate* unmanaged<int*, int, int>)Export("cuDeviceGet");
            var retain = (delegate* unmanaged<IntPtr*, int, int>)Export("cuDevicePrimaryCtxRetain");
            var setCurrent = (delegate* unmanaged<IntPtr, int>)Export("cuCtxSetCurrent");
            Check(init(0), "cuInit");
            int device;
            Check(deviceGet(&device, index), $"cuDeviceGet({index})");
            // The primary context is the one libtorch uses; retaining it again only bumps its use count.
            IntPtr context;
            Check(retain(&context, device), "cuDevicePrimaryCtxRetain");
            Check(setCurrent(context), "cuCtxSetCurrent");
        }

        private static IntPtr Export(string name) => NativeLibrary.GetExport(Library.Value, name);

        private static void Check(int result, string call)
        {
            if (result == 0) return;
            var getErrorString = (delegate* unmanaged<int, byte**, int>)Export("cuGetErrorString");
            byte* text = null;
            getErrorString(result, &text);
            var message = text != null ? Marshal.PtrToStringUTF8((IntPtr)text) : null;
            throw new XTunerException(ErrorIds.CollectiveFailed, $"{call} failed: CUDA driver error {result}{(message != null ? ", " + message : "")}.");
        }
    }
}
