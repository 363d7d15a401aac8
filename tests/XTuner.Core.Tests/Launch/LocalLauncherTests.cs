using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Core.Runs;
using Xunit;

namespace XTuner.Core.Tests.Launch
{
    /// <summary>The launcher's process handling, with /bin/sh scripts standing in for xtuner ranks.</summary>
    public class LocalLauncherTests
    {
        private static LaunchPlan Plan(string script, int ranks)
        {
            var plan = new LaunchPlan
            {
                Config = new XTunerConfig { Name = "script", GpusPerNode = ranks, Device = DeviceKind.Cpu },
                WorkDir = TempDir.Create(),
                Worker = new WorkerCommand("/bin/sh", new[] { "-c", script, "sh" }),
            };
            for (int r = 0; r < ranks; r++)
                plan.Ranks.Add(new RankSpec { Rank = r, LocalRank = r, Environment = { ["RANK"] = r.ToString() } });
            return plan;
        }

        [Fact]
        public void ARankThatFailsStopsTheOthersAndIsNamed()
        {
            var plan = Plan("if [ \"$RANK\" = 1 ]; then echo loading; echo 'bad data at line 3' >&2; exit 3; fi; exec sleep 60", 3);
            using var launcher = new LocalLauncher(plan);
            var started = DateTime.UtcNow;
            launcher.Start();
            var e = Assert.Throws<XTunerException>(() => launcher.WaitForExit(CancellationToken.None));
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(15), "the other ranks were not stopped within seconds");
            Assert.Equal(ErrorIds.RankFailed, e.ErrorId);
            Assert.Contains("Rank 1 exited with code 3", e.Message);
            Assert.Contains("bad data at line 3", e.Message);
            Assert.Contains(Path.Combine(plan.WorkDir, "logs", "rank1.log"), e.Message);
            Assert.All(launcher.Run.Ranks, r => Assert.False(ProcessSignals.IsAlive(r.ProcessId)));
            var saved = XTunerRun.Load(plan.WorkDir)!;
            Assert.Equal(RunState.Failed, saved.State);
            Assert.Equal(ErrorIds.RankFailed, saved.ErrorId);
            Assert.Equal(3, saved.Ranks[1].ExitCode);
        }

        [Theory]
        [InlineData(ErrorIds.CollectiveFailed)]
        [InlineData(ErrorIds.PeerLost)]
        [InlineData(ErrorIds.RendezvousFailed)]
        public void TheRankThatFailedFirstOfItsOwnIsNamedNotTheOneThatLostItsPeer(string consequence)
        {
            // Rank 1 gives up at once as a rank does whose store went away; rank 0's own error comes a moment later.
            var plan = Plan($"if [ \"$RANK\" = 1 ]; then echo 'xtuner train: error [{consequence}]: rank 0 went away' >&2; exit 1; fi; " +
                            "sleep 0.5; echo 'cannot create checkpoints' >&2; exit 2", 2);
            using var launcher = new LocalLauncher(plan);
            launcher.Start();
            var e = Assert.Throws<XTunerException>(() => launcher.WaitForExit(CancellationToken.None));
            Assert.Equal(ErrorIds.RankFailed, e.ErrorId);
            Assert.Contains("Rank 0 exited with code 2", e.Message);
            Assert.Contains("cannot create checkpoints", e.Message);
        }

        [Fact]
        public void ARankThatLostItsPeerIsNamedWhenNoOtherFails()
        {
            var plan = Plan("if [ \"$RANK\" = 1 ]; then echo 'xtuner train: error [XTunerRendezvousTimeout]: rank 0 did not open the store' >&2; exit 1; fi; exec sleep 60", 2);
            using var launcher = new LocalLauncher(plan);
            launcher.Start();
            var e = Assert.Throws<XTunerException>(() => launcher.WaitForExit(CancellationToken.None));
            Assert.Equal(ErrorIds.RendezvousTimeout, e.ErrorId);
            Assert.Contains("Rank 1 exited with code 1", e.Message);
        }

        [Fact]
        public void StoppingLeavesNoRankBehind()
        {
            var plan = Plan("trap '' TERM; exec sleep 60", 2);
            using var launcher = new LocalLauncher(plan);
            launcher.Start();
            Thread.Sleep(300);
            var pids = launcher.Run.Ranks.Select(r => r.ProcessId).ToList();
            Assert.All(pids, pid => Assert.True(ProcessSignals.IsAlive(pid)));
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            var run = launcher.WaitForExit(cancel.Token);
            Assert.Equal(RunState.Stopped, run.State);
            Assert.All(pids, pid => Assert.False(ProcessSignals.IsAlive(pid)));
            Assert.Equal(RunState.Stopped, XTunerRun.Load(plan.WorkDir)!.State);
        }

        [Fact]
        public void RankZeroEventsReachTheCallerAndLogsAreKept()
        {
            var ev = new RunEvent { Kind = "step", Metrics = new XTunerStep { Step = 1, TotalSteps = 2, Loss = 1.5 } }.ToLine();
            var plan = Plan($"echo hello from $RANK; echo '{ev}'", 2);
            using var launcher = new LocalLauncher(plan, echoRankZero: true);
            launcher.Start();
            var messages = launcher.Messages.GetConsumingEnumerable().ToList();
            var run = launcher.WaitForExit(CancellationToken.None);
            Assert.Equal(RunState.Completed, run.State);
            Assert.Contains(messages, m => m.Line == "hello from 0");
            var step = Assert.Single(messages, m => m.Event != null).Event!;
            Assert.Equal(1.5, step.Metrics!.Loss);
            Assert.DoesNotContain(messages, m => m.Rank != 0);
            Assert.Contains("hello from 1", File.ReadAllText(Path.Combine(plan.WorkDir, "logs", "rank1.log")));
            Assert.All(XTunerRun.Load(plan.WorkDir)!.Ranks, r => Assert.Equal(0, r.ExitCode));
        }

        [Fact]
        public void ARankThatReportsARendezvousTimeoutIsNamedForIt()
        {
            var plan = Plan("if [ \"$RANK\" = 1 ]; then echo 'xtuner train: error [XTunerRendezvousTimeout]: rank 0 did not open the store' >&2; exit 1; fi; exec sleep 60", 2);
            using var launcher = new LocalLauncher(plan);
            launcher.Start();
            var e = Assert.Throws<XTunerException>(() => launcher.WaitForExit(CancellationToken.None));
            Assert.Equal(ErrorIds.RendezvousTimeout, e.ErrorId);
            Assert.Contains("Rank 1 exited with code 1", e.Message);
            Assert.Equal(ErrorIds.RendezvousTimeout, XTunerRun.Load(plan.WorkDir)!.ErrorId);
        }

        [Fact]
        public void OneWorkDirTakesOneRunOfThisProcessAtATime()
        {
            var plan = Plan("exec sleep 60", 1);
            using var first = new LocalLauncher(plan);
            first.Start();
            Assert.True(LocalLauncher.IsRunningIn(plan.WorkDir));
            var refused = Assert.Throws<XTunerException>(() => WorkDirs.CheckCanStart(plan.WorkDir, resume: false));
            Assert.Equal(ErrorIds.InvalidConfig, refused.ErrorId);
            using (var second = new LocalLauncher(plan))
                Assert.Equal(ErrorIds.InvalidConfig, Assert.Throws<XTunerException>(() => second.Start()).ErrorId);
            Assert.Equal(RunState.Running, XTunerRun.Load(plan.WorkDir)!.State);
            first.Stop();
            Assert.False(LocalLauncher.IsRunningIn(plan.WorkDir));
            WorkDirs.CheckCanStart(plan.WorkDir, resume: false);
        }

        [Fact]
        public void ARunWhoseLauncherVanishedReadsAsFailed()
        {
            var dir = TempDir.Create();
            // A run.json left "Running" by a launcher that no longer exists (pid far beyond any live process).
            new XTunerRun { WorkDir = dir, State = RunState.Running, LauncherProcessId = 4_000_000, Ranks = { new RankRecord { Rank = 0, ProcessId = 4_000_001 } } }.Save();
            var run = XTunerRun.Load(dir)!;
            Assert.Equal(RunState.Failed, run.State);
            Assert.Contains("pid 4000000", run.Error);
        }

        [Fact]
        public void TheRanksOfARunShareASecretThatNoOtherRunHasAndThePlanDoesNotShow()
        {
            string Secrets(LaunchPlan plan)
            {
                using var launcher = new LocalLauncher(plan);
                launcher.Start();
                Assert.Equal(RunState.Completed, launcher.WaitForExit(CancellationToken.None).State);
                var tokens = Enumerable.Range(0, plan.Ranks.Count).Select(r => File.ReadAllText(Path.Combine(plan.WorkDir, "logs", $"rank{r}.log")).Trim()).Distinct().ToList();
                return Assert.Single(tokens);
            }

            var first = Plan("echo \"$XTUNER_RUN_TOKEN\"", 3);
            var a = Secrets(first);
            var b = Secrets(Plan("echo \"$XTUNER_RUN_TOKEN\"", 2));
            Assert.Matches("^[0-9a-f]{64}$", a);
            Assert.NotEqual(a, b);
            Assert.DoesNotContain(a, first.Describe());
            Assert.DoesNotContain(first.Ranks, r => r.Environment.ContainsKey(RunToken.Variable));
        }

        [Fact]
        public void ALauncherThatCannotWriteItsRecordSaysSoInOneErrorAndLeavesNoRank()
        {
            var plan = Plan("exec sleep 1", 2);
            using var launcher = new LocalLauncher(plan);
            launcher.Start();
            // What a full disk does to run.json: the end of the run cannot be recorded.
            var record = new WorkDirLayout(plan.WorkDir).RunRecord;
            File.Delete(record);
            Directory.CreateDirectory(record);
            var e = Assert.Throws<XTunerException>(() => launcher.WaitForExit(CancellationToken.None));
            Assert.Equal(ErrorIds.WorkDirWriteFailed, e.ErrorId);
            Assert.StartsWith($"Cannot write {record} (", e.Message);
            Assert.All(launcher.Run.Ranks, r => Assert.False(ProcessSignals.IsAlive(r.ProcessId)));
            Assert.False(File.Exists(new WorkDirLayout(plan.WorkDir).Lock));
        }

        [Fact]
        public void ARankLogThatCannotBeWrittenStopsTheRunWithTheReason()
        {
            var plan = Plan("exec sleep 60", 1);
            // rank0.log is a folder: the launcher cannot open it (as on a full or read-only disk).
            Directory.CreateDirectory(new WorkDirLayout(plan.WorkDir).RankLog(0));
            using var launcher = new LocalLauncher(plan);
            var e = Assert.Throws<XTunerException>(() => launcher.Start());
            Assert.Equal(ErrorIds.WorkDirWriteFailed, e.ErrorId);
            Assert.Contains("rank0.log", e.Message);
            Assert.False(LocalLauncher.IsRunningIn(plan.WorkDir));
            Assert.False(File.Exists(new WorkDirLayout(plan.WorkDir).Lock));
        }

        [Fact]
        public void AFullDiskUnderARanksLogIsNotedNotACrash()
        {
            // /dev/full answers every write with ENOSPC, as a full disk does.
            var worker = new WorkerCommand("/bin/sh", new[] { "-c", "echo one; echo two; echo three" });
            using var rank = new RankProcess(0, worker, new string[0], new System.Collections.Generic.Dictionary<string, string>(), "/dev/full", TempDir.Create(), null);
            rank.Start();
            Assert.True(rank.WaitForExit(TimeSpan.FromSeconds(20)));
            var failure = Assert.IsType<IOException>(rank.LogFailure);
            Assert.Contains("space", failure.Message, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(new[] { "one", "two", "three" }, rank.Tail());
        }

        [Fact]
        public void RanksReceiveTheirArgumentsUnchanged()
        {
            var plan = Plan("printf '[%s]\\n' \"$@\"", 1);
            plan.Arguments.AddRange(new[] { "/tmp/a\\b c", "C:\\dir\\", "say \"hi\"" });
            using var launcher = new LocalLauncher(plan);
            launcher.Start();
            Assert.Equal(RunState.Completed, launcher.WaitForExit(CancellationToken.None).State);
            var log = File.ReadAllLines(Path.Combine(plan.WorkDir, "logs", "rank0.log"));
            Assert.Equal(new[] { "[/tmp/a\\b c]", "[C:\\dir\\]", "[say \"hi\"]" }, log);
        }

        [Fact]
        public void AMissingWorkerIsAClearError()
        {
            var plan = Plan("", 1);
            plan.Worker = new WorkerCommand("/nonexistent/xtuner", new string[0]);
            using var launcher = new LocalLauncher(plan);
            var e = Assert.Throws<XTunerException>(() => launcher.Start());
            Assert.Equal(ErrorIds.WorkerNotFound, e.ErrorId);
        }
    }
}
