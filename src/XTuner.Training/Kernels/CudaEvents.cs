using System;

namespace XTuner.Training.Kernels
{
    /// <summary>
    /// CUDA events through the driver API, recorded on stream 0 (the legacy default stream libtorch and the fused kernels
    /// compute on) in the device's primary context: the time between two of them is the device's time for the work
    /// queued between their records.
    /// </summary>
    internal static unsafe class CudaEvents
    {
        private const string What = "Phase timing", Advice = "Run without --phases (XTUNER_PHASE_TIMES).";

        public static IntPtr Create(int device)
        {
            CudaModules.MakeCurrent(device, What, Advice);
            IntPtr e;
            CudaModules.Check(((delegate* unmanaged<IntPtr*, uint, int>)CudaModules.Export("cuEventCreate"))(&e, 0), "cuEventCreate", What, Advice);
            return e;
        }

        public static void Record(int device, IntPtr e)
        {
            CudaModules.MakeCurrent(device, What, Advice);
            CudaModules.Check(((delegate* unmanaged<IntPtr, IntPtr, int>)CudaModules.Export("cuEventRecord"))(e, IntPtr.Zero), "cuEventRecord", What, Advice);
        }

        public static void Synchronize(int device, IntPtr e)
        {
            CudaModules.MakeCurrent(device, What, Advice);
            CudaModules.Check(((delegate* unmanaged<IntPtr, int>)CudaModules.Export("cuEventSynchronize"))(e), "cuEventSynchronize", What, Advice);
        }

        public static double ElapsedMilliseconds(int device, IntPtr start, IntPtr end)
        {
            CudaModules.MakeCurrent(device, What, Advice);
            float ms;
            CudaModules.Check(((delegate* unmanaged<float*, IntPtr, IntPtr, int>)CudaModules.Export("cuEventElapsedTime"))(&ms, start, end), "cuEventElapsedTime", What, Advice);
            return ms;
        }

        public static void Destroy(int device, IntPtr e)
        {
            CudaModules.MakeCurrent(device, What, Advice);
            ((delegate* unmanaged<IntPtr, int>)CudaModules.Export("cuEventDestroy_v2"))(e);
        }
    }
}
