using System;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// Raw addresses of tensor data, for sockets (host memory) and NCCL (device memory). TorchSharp 0.107 has no
    /// public <c>Tensor.data_ptr()</c>; its native shim exports <c>THSTensor_data</c>, which returns libtorch's
    /// <c>at::Tensor::data_ptr()</c>: the address of the first element (storage offset applied) on the tensor's own
    /// device. The shim is resolved through TorchSharp's assembly so that it is the very library TorchSharp loaded.
    /// </summary>
    internal static unsafe class TensorMemory
    {
        private static readonly delegate* unmanaged<IntPtr, IntPtr> DataPointer = LoadDataPointer();

        /// <summary>Address of the first element; <see cref="IntPtr.Zero"/> for an empty tensor.</summary>
        public static IntPtr Pointer(Tensor tensor)
        {
            if (tensor.numel() == 0) return IntPtr.Zero;
            var pointer = DataPointer(tensor.Handle);
            if (pointer == IntPtr.Zero)
                throw new InvalidOperationException($"libtorch gave no data address for a {tensor.dtype} tensor on {tensor.device} (a tensor without storage?)");
            return pointer;
        }

        /// <summary>Bytes spanned by the elements of a contiguous tensor.</summary>
        public static long Bytes(Tensor tensor) => tensor.numel() * tensor.element_size();

        private static delegate* unmanaged<IntPtr, IntPtr> LoadDataPointer()
        {
            var library = NativeLibrary.Load("LibTorchSharp", typeof(torch).Assembly, null);
            return (delegate* unmanaged<IntPtr, IntPtr>)NativeLibrary.GetExport(library, "THSTensor_data");
        }
    }
}
