using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Core.Runs;
using Xunit;

namespace XTuner.Core.Tests.Launch
{
    /// <summary>Stopping a run through its work dir, as Stop-XTunerTraining does from another shell.</summary>
    public class RunControlTests
    {
        private static readonly int Me = Process.GetCurrentProcess().Id;

        /// <summary>A /bin/sh stand-in for a rank; <paramref name="launcherPid"/> goes into its environment as the launcher's does.</summary>
        private static Process StartRank(string script, int? launcherPid)
        {
            var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(script);
            if (launcherPid is int pid) info.Environment[LaunchPlanner.LauncherPidVariable] = pid.ToString();
            return Process.Start(info)!;
        }

        /// <summary>The pid of a process that has exited: a launcher that is gone.</summary>
        private static int GonePid()
        {
            using var p = Process.Start(new ProcessStartInfo("/bin/sh", "-c true") { UseShellExecute = false })!;
            p.WaitForExit();
            return p.Id;
        }

        private static string RunningRun(int launcherPid, params Process[] ranks)
        {
            var run = new XTunerRun
            {
                WorkDir = TempDir.Create(),
                Name = "script",
                State = RunState.Running,
                LauncherProcessId = launcherPid,
                WorldSize = ranks.Length,
                StartTime = DateTime.UtcNow,
            };
            for (int r = 0; r < ranks.Length; r++) run.Ranks.Add(new RankRecord { Rank = r, ProcessId = ranks[r].Id });
            run.Save();
            return run.WorkDir;
        }

        [Fact]
        public void RanksWhoseLauncherIsGoneAreTerminatedThenKilledAndTheRunIsRecordedStopped()
        {
            int launcher = GonePid();
            using var polite = StartRank("exec sleep 60", launcher);
            using var stubborn = StartRank("trap '' TERM; exec sleep 60", launcher);
            var workDir = RunningRun(launcher, polite, stubborn);
            Thread.Sleep(300);
            Assert.Equal(2, RunControl.LiveRanks(XTunerRun.Load(workDir)!).Count);

            var run = RunControl.Stop(workDir, TimeSpan.FromMilliseconds(500));

            Assert.Equal(RunState.Stopped, run.State);
            Assert.NotNull(run.EndTime);
            Assert.False(ProcessSignals.IsAlive(polite.Id));
            Assert.False(ProcessSignals.IsAlive(stubborn.Id));
            Assert.Equal(RunState.Stopped, XTunerRun.Load(workDir)!.State);
            Assert.False(File.Exists(Path.Combine(workDir, RunControl.StopFileName)));
        }

        [Fact]
        public void AProcessThatOnlyHasARanksPidIsLeftAlone()
        {
            using var stranger = StartRank("exec sleep 60", launcherPid: null);
            try
            {
                var workDir = RunningRun(GonePid(), stranger);
                Thread.Sleep(200);
                var run = RunControl.Stop(workDir, TimeSpan.FromMilliseconds(200));
                // Its launcher is gone and none of its ranks runs: the run reads as Failed, with nothing left to stop.
                Assert.Equal(RunState.Failed, run.State);
                Assert.True(ProcessSignals.IsAlive(stranger.Id));
            }
            finally
            {
                stranger.Kill();
            }
        }

        [Fact]
        public async Task ALauncherThatIsStillThereStopsItsRanksAndRecordsAStopNotAFailure()
        {
            var plan = new LaunchPlan
            {
                Config = new XTunerConfig { Name = "script", GpusPerNode = 2, Device = DeviceKind.Cpu },
                WorkDir = TempDir.Create(),
                Worker = new WorkerCommand("/bin/sh", new[] { "-c", "exec sleep 60", "sh" }),
            };
            plan.SharedEnvironment[LaunchPlanner.LauncherPidVariable] = Me.ToString();
            for (int r = 0; r < 2; r++) plan.Ranks.Add(new RankSpec { Rank = r, LocalRank = r });
            using var launcher = new LocalLauncher(plan);
            launcher.Start();
            Thread.Sleep(300);
            var pids = launcher.Run.Ranks.Select(r => r.ProcessId).ToList();

            var stopped = Task.Run(() => RunControl.Stop(plan.WorkDir, RunControl.DefaultGrace));
            var run = launcher.WaitForExit(CancellationToken.None);

            Assert.Equal(RunState.Stopped, run.State);
            Assert.Null(launcher.Failure);
            var recorded = await stopped;
            Assert.Equal(RunState.Stopped, recorded.State);
            Assert.Null(recorded.ErrorId);
            Assert.All(pids, pid => Assert.False(ProcessSignals.IsAlive(pid)));
        }

        [Fact]
        public void ARunThatHasEndedIsReturnedAsItIs()
        {
            var run = new XTunerRun { WorkDir = TempDir.Create(), State = RunState.Completed, LauncherProcessId = Me, Ranks = { new RankRecord { ProcessId = Me } } };
            run.Save();
            Assert.Equal(RunState.Completed, RunControl.Stop(run.WorkDir, TimeSpan.Zero).State);
            Assert.Empty(RunControl.LiveRanks(run));
        }

        [Fact]
        public void AFolderWithoutARunIsRunNotFound()
        {
            var e = Assert.Throws<XTunerException>(() => RunControl.Stop(TempDir.Create(), TimeSpan.Zero));
            Assert.Equal(ErrorIds.RunNotFound, e.ErrorId);
        }

        [Theory]
        [InlineData("slurm", null, "slurm launcher")]
        [InlineData("local", "elsewhere-host", "runs on elsewhere-host")]
        public void ARunOfAnotherLauncherOrMachineIsNotStoppableHere(string launcherKind, string? host, string message)
        {
            var run = new XTunerRun { WorkDir = TempDir.Create(), State = RunState.Running, Launcher = launcherKind, Host = host ?? Environment.MachineName };
            run.Save();
            var e = Assert.Throws<XTunerException>(() => RunControl.Stop(run.WorkDir, TimeSpan.Zero));
            Assert.Equal(ErrorIds.RunNotStoppable, e.ErrorId);
            Assert.Contains(message, e.Message);
        }
    }
}
