using System;
using System.Runtime.InteropServices;
using System.Threading;
using XTuner.Core.Launch;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// A rank of xtuner's own launcher (its pid comes in XTUNER_LAUNCHER_PID): it exits instead of training on unseen
    /// when the launcher is gone (PowerShell closed, launcher killed; checked every second), and it leaves Ctrl+C to the
    /// launcher. A terminal's Ctrl+C reaches every process of the foreground group, the ranks too; the launcher decides
    /// what it means (a checkpoint first, or a stop) and tells the ranks with a signal of their own.
    /// </summary>
    public static class LauncherWatch
    {
        private static PosixSignalRegistration? _interrupt;

        public static void Start()
        {
            if (!int.TryParse(Environment.GetEnvironmentVariable(LaunchPlanner.LauncherPidVariable), out var pid) || pid <= 0) return;
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
                _interrupt ??= PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => ctx.Cancel = true);
            var thread = new Thread(() =>
            {
                while (ProcessSignals.IsAlive(pid)) Thread.Sleep(1000);
                Console.Error.WriteLine($"xtuner: the launcher (pid {pid}) is gone; stopping this rank.");
                Environment.Exit(143);
            }) { IsBackground = true, Name = "xtuner-launcher-watch" };
            thread.Start();
        }
    }
}
