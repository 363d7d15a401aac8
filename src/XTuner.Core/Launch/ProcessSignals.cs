using System.Diagnostics;
using System.Runtime.InteropServices;

namespace XTuner.Core.Launch
{
    /// <summary>POSIX signals for rank processes (netstandard2.0 has no Process API for them).</summary>
    public static class ProcessSignals
    {
        public const int SigTerm = 15;
        public const int SigKill = 9;

        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static extern int Kill(int pid, int signal);

        /// <summary>Asks a process to stop; false when the signal could not be sent (gone, or not POSIX).</summary>
        public static bool Terminate(int pid)
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && !RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
                return false;
            return Kill(pid, SigTerm) == 0;
        }

        /// <summary>Whether a process with this id exists (signal 0 probes without sending).</summary>
        public static bool IsAlive(int pid)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
                return Kill(pid, 0) == 0 || Marshal.GetLastWin32Error() == 1; // EPERM: exists, not ours
            try
            {
                return !Process.GetProcessById(pid).HasExited;
            }
            catch (System.ArgumentException)
            {
                return false;
            }
        }
    }
}
