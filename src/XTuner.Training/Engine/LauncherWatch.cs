using System;
using System.Threading;
using XTuner.Core.Launch;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// A rank whose launcher is gone (PowerShell closed, launcher killed) exits instead of training on unseen:
    /// the launcher's pid comes in XTUNER_LAUNCHER_PID and is checked every second.
    /// </summary>
    public static class LauncherWatch
    {
        public static void Start()
        {
            if (!int.TryParse(Environment.GetEnvironmentVariable(LaunchPlanner.LauncherPidVariable), out var pid) || pid <= 0) return;
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
