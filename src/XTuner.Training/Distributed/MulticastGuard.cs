using System;
using System.Runtime.InteropServices;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// Keeps NCCL's NVLink SHARP (multicast) path off unless the user chose otherwise: on shared multi-GPU hosts a
    /// program using NVLink multicast can take the host's GPUs out of service for everyone, and launchers export
    /// NCCL_NVLS_ENABLE=0 for that reason. A rank started with an environment of its own may lack it, so it is set
    /// here, in the native environment that NCCL's getenv reads (.NET's Environment.SetEnvironmentVariable does not
    /// reach it on Unix), before NCCL initialises. This code never calls a multicast API itself.
    /// </summary>
    internal static unsafe class MulticastGuard
    {
        public const string Variable = "NCCL_NVLS_ENABLE";

        public static void KeepNvlsOff()
        {
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable))) return;
            var libc = NativeLibrary.Load("libc.so.6");
            var setenv = (delegate* unmanaged<byte*, byte*, int, int>)NativeLibrary.GetExport(libc, "setenv");
            var name = System.Text.Encoding.ASCII.GetBytes(Variable + "\0");
            var value = System.Text.Encoding.ASCII.GetBytes("0\0");
            fixed (byte* n = name)
            fixed (byte* v = value)
                setenv(n, v, 0);
            Environment.SetEnvironmentVariable(Variable, "0");
        }
    }
}
