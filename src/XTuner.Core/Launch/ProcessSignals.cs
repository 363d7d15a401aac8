using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;

namespace XTuner.Core.Launch
{
    /// <summary>POSIX signals for rank processes (netstandard2.0 has no Process API for them).</summary>
    public static class ProcessSignals
    {
        public const int SigTerm = 15;
        public const int SigKill = 9;

        /// <summary>
        /// SIGUSR1: a rank saves a checkpoint at the next step boundary and trains on (SLURM's warning before the time
        /// limit, <c>--signal=USR1@SECONDS</c>).
        /// </summary>
        public static int CheckpointSignal => RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? 30 : 10;

        /// <summary>
        /// SIGUSR2: a rank saves a checkpoint at the next step boundary and ends (exit code 0), so that the run resumes
        /// where it stopped (the first Ctrl+C of <c>xtuner train</c>, <c>Stop-XTunerTraining -Checkpoint</c>).
        /// </summary>
        public static int CheckpointAndStopSignal => RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? 31 : 12;

        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static extern int Kill(int pid, int signal);

        /// <summary>Sends <paramref name="signal"/> to a process; false when it could not be sent (gone, or not POSIX).</summary>
        public static bool Send(int pid, int signal)
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && !RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
                return false;
            return Kill(pid, signal) == 0;
        }

        /// <summary>Asks a process to stop; false when the signal could not be sent (gone, or not POSIX).</summary>
        public static bool Terminate(int pid) => Send(pid, SigTerm);

        /// <summary>Ends a process at once (SIGKILL); false when the signal could not be sent.</summary>
        public static bool ForceKill(int pid)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
                return Kill(pid, SigKill) == 0;
            try
            {
                Process.GetProcessById(pid).Kill();
                return true;
            }
            catch (System.Exception e) when (e is System.ArgumentException || e is System.InvalidOperationException || e is System.ComponentModel.Win32Exception)
            {
                return false;
            }
        }

        /// <summary>
        /// Whether a process with this id exists and has not exited (signal 0 probes without sending). A zombie (exited,
        /// not yet reaped by its parent) counts as gone: an orphaned rank in a container without an init may stay one.
        /// </summary>
        public static bool IsAlive(int pid)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
                return (Kill(pid, 0) == 0 || Marshal.GetLastWin32Error() == 1) && !IsZombie(pid); // EPERM: exists, not ours
            try
            {
                return !Process.GetProcessById(pid).HasExited;
            }
            catch (System.ArgumentException)
            {
                return false;
            }
        }

        /// <summary>Linux only (<c>/proc/PID/stat</c>, state after the parenthesised name); elsewhere false.</summary>
        private static bool IsZombie(int pid)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                int close = stat.LastIndexOf(')');
                return close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z';
            }
            catch (System.Exception e) when (e is IOException || e is System.UnauthorizedAccessException)
            {
                return false;
            }
        }
    }
}
