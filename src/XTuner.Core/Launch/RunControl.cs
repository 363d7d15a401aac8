using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using XTuner.Core.Runs;

namespace XTuner.Core.Launch
{
    /// <summary>
    /// Stops a local run from outside the process that launched it (another shell, a job), through its work dir alone:
    /// <c>run.json</c> names the launcher and the rank processes.
    /// </summary>
    /// <remarks>
    /// A stop request is a file in the work dir that the <see cref="LocalLauncher"/> watches, so that a launcher which is
    /// still there stops its ranks itself and records the run as Stopped rather than as a failed rank. Ranks it does not
    /// stop in time, or whose launcher is gone, are signalled here (SIGTERM, then SIGKILL after the grace period). A
    /// request that starts with <see cref="CheckpointWord"/> asks for a checkpoint first (<see cref="CheckpointAndStop"/>).
    /// </remarks>
    public static class RunControl
    {
        /// <summary>The stop request a launcher watches for in its work dir.</summary>
        public const string StopFileName = "stop.request";

        /// <summary>How a request to stop after a checkpoint starts (no host name holds a colon).</summary>
        public const string CheckpointWord = "checkpoint:";

        public static readonly TimeSpan DefaultGrace = TimeSpan.FromSeconds(5);

        /// <summary>What a launcher that is still running gets, beyond the grace period, to stop its ranks and record it.</summary>
        private static readonly TimeSpan LauncherAllowance = TimeSpan.FromSeconds(10);

        private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

        /// <summary>Whether a run may still have rank processes (Starting or Running).</summary>
        public static bool IsActive(XTunerRun run) => run.State == RunState.Starting || run.State == RunState.Running;

        /// <summary>The rank processes of an active run that are still alive on this machine.</summary>
        public static IReadOnlyList<int> LiveRanks(XTunerRun run) =>
            IsActive(run) ? run.Ranks.Select(r => r.ProcessId).Where(pid => pid > 0 && IsRankOf(pid, run)).ToList() : new List<int>();

        /// <summary>
        /// Stops the run in <paramref name="workDir"/> and returns it as recorded afterwards. A run that is not active is
        /// returned as it is. When this returns, none of its rank processes is alive.
        /// </summary>
        /// <exception cref="XTunerException"><see cref="ErrorIds.RunNotFound"/> when the folder holds no run;
        /// <see cref="ErrorIds.RunNotStoppable"/> for a run of another machine or launcher.</exception>
        public static XTunerRun Stop(string workDir, TimeSpan grace)
        {
            var run = XTunerRun.Open(workDir);
            if (!IsActive(run)) return run;
            RequireStoppable(run);
            var stopFile = WriteRequest(run, StopRequest.Stop);
            try
            {
                bool launcherAlive = run.LauncherProcessId > 0 && ProcessSignals.IsAlive(run.LauncherProcessId);
                if (launcherAlive) WaitUntil(() => LiveRanks(run).Count == 0, grace + LauncherAllowance);
                Terminate(LiveRanks(run), grace);
                // A launcher that is still there records the end itself; one that is gone, or does not in time, cannot.
                if (launcherAlive && WaitUntil(() => !IsActive(XTunerRun.Load(workDir) ?? run), LauncherAllowance))
                    return XTunerRun.Load(workDir) ?? run;
                var stopped = XTunerRun.Load(workDir) ?? run;
                stopped.State = RunState.Stopped;
                stopped.EndTime = DateTime.UtcNow;
                stopped.Save();
                return stopped;
            }
            finally
            {
                File.Delete(stopFile);
            }
        }

        /// <summary>
        /// Lets the run in <paramref name="workDir"/> save a checkpoint at the end of the step it is taking and end there,
        /// and returns it as recorded afterwards (Stopped; Completed when its last step came first). Its launcher asks
        /// the ranks (before the first step, with nothing to save, it stops them at once); ranks whose launcher is gone
        /// are asked here. Waits as long as the step and the checkpoint take, calling <paramref name="waiting"/> about
        /// every second with the run as last recorded.
        /// </summary>
        /// <exception cref="XTunerException">As <see cref="Stop"/>.</exception>
        /// <exception cref="OperationCanceledException"><paramref name="cancel"/> ended the wait; the ranks still save and end.</exception>
        public static XTunerRun CheckpointAndStop(string workDir, CancellationToken cancel, Action<XTunerRun>? waiting = null)
        {
            var run = XTunerRun.Open(workDir);
            if (!IsActive(run)) return run;
            RequireStoppable(run);
            var stopFile = WriteRequest(run, StopRequest.CheckpointAndStop);
            try
            {
                bool launcherAlive = run.LauncherProcessId > 0 && ProcessSignals.IsAlive(run.LauncherProcessId);
                if (!launcherAlive)
                    foreach (var pid in LiveRanks(run)) ProcessSignals.Send(pid, ProcessSignals.CheckpointAndStopSignal);
                var report = DateTime.UtcNow;
                while (LiveRanks(run).Count > 0)
                {
                    cancel.ThrowIfCancellationRequested();
                    if (waiting != null && DateTime.UtcNow - report >= TimeSpan.FromSeconds(1))
                    {
                        report = DateTime.UtcNow;
                        waiting(XTunerRun.Load(workDir) ?? run);
                    }
                    Thread.Sleep(Poll);
                }
                if (launcherAlive && WaitUntil(() => !IsActive(XTunerRun.Load(workDir) ?? run), LauncherAllowance))
                    return XTunerRun.Load(workDir) ?? run;
                // No launcher to record the end: the metrics say whether the last step was reached.
                var ended = XTunerRun.Load(workDir) ?? run;
                ended.State = ended.TotalSteps > 0 && ended.Step >= ended.TotalSteps ? RunState.Completed : RunState.Stopped;
                ended.EndTime = DateTime.UtcNow;
                ended.Save();
                return ended;
            }
            finally
            {
                File.Delete(stopFile);
            }
        }

        /// <summary>The request in <paramref name="workDir"/>'s stop file, if any.</summary>
        public static StopRequest ReadRequest(string workDir)
        {
            var path = Path.Combine(workDir, StopFileName);
            if (!File.Exists(path)) return StopRequest.None;
            string? text;
            try
            {
                text = AtomicFile.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                // Unreadable is still a request: the file is there.
                return StopRequest.Stop;
            }
            if (text == null) return StopRequest.None;
            return text.StartsWith(CheckpointWord, StringComparison.Ordinal) ? StopRequest.CheckpointAndStop : StopRequest.Stop;
        }

        /// <exception cref="XTunerException">A run of another launcher or machine (<see cref="ErrorIds.RunNotStoppable"/>).</exception>
        private static void RequireStoppable(XTunerRun run)
        {
            if (!string.Equals(run.Launcher, "local", StringComparison.OrdinalIgnoreCase))
                throw new XTunerException(ErrorIds.RunNotStoppable,
                    $"The run in {run.WorkDir} was started by the {run.Launcher} launcher; stop it through that launcher (for SLURM: Stop-Job, or scancel).");
            if (!string.Equals(run.Host, Environment.MachineName, StringComparison.OrdinalIgnoreCase))
                throw new XTunerException(ErrorIds.RunNotStoppable,
                    $"The run in {run.WorkDir} runs on {run.Host}; stop it from a shell on that machine.");
        }

        /// <summary>Writes the request (who asks: host and process) and returns the file's path.</summary>
        private static string WriteRequest(XTunerRun run, StopRequest request)
        {
            var stopFile = Path.Combine(run.WorkDir, StopFileName);
            var who = Environment.MachineName + " " + System.Diagnostics.Process.GetCurrentProcess().Id;
            // Whole or not at all: a launcher that read half a checkpoint request would stop the ranks at once.
            AtomicFile.WriteAllText(stopFile, request == StopRequest.CheckpointAndStop ? CheckpointWord + " " + who : who);
            return stopFile;
        }

        /// <summary>SIGTERM to each process, then SIGKILL to those still alive after <paramref name="grace"/>; waits until all are gone.</summary>
        private static void Terminate(IReadOnlyList<int> pids, TimeSpan grace)
        {
            if (pids.Count == 0) return;
            foreach (var pid in pids)
                if (!ProcessSignals.Terminate(pid)) ProcessSignals.ForceKill(pid);
            if (WaitUntil(() => pids.All(p => !ProcessSignals.IsAlive(p)), grace)) return;
            foreach (var pid in pids.Where(ProcessSignals.IsAlive))
                ProcessSignals.ForceKill(pid);
            WaitUntil(() => pids.All(p => !ProcessSignals.IsAlive(p)), TimeSpan.FromSeconds(10));
        }

        /// <summary>
        /// Whether <paramref name="pid"/> is alive and still one of the run's ranks: on Linux its environment must carry
        /// the run's launcher pid, so that a pid the system has since given to another process is never signalled.
        /// </summary>
        private static bool IsRankOf(int pid, XTunerRun run)
        {
            if (!ProcessSignals.IsAlive(pid)) return false;
            var environ = $"/proc/{pid}/environ";
            if (!Directory.Exists("/proc/self")) return true;
            try
            {
                var marker = LaunchPlanner.LauncherPidVariable + "=" + run.LauncherProcessId;
                return File.ReadAllText(environ).Split('\0').Contains(marker);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                return false;
            }
        }

        private static bool WaitUntil(Func<bool> condition, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (!condition())
            {
                if (DateTime.UtcNow > deadline) return false;
                Thread.Sleep(Poll);
            }
            return true;
        }
    }
}
