using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using XTuner.Core.Launch;
using XTuner.Core.Runs;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Cli
{
    /// <summary>
    /// The launcher (<c>xtuner train</c> starting its ranks) against what happens to it from outside: signals, a
    /// second run in the same work dir, a disk that fills, a resume with nothing to resume. Real processes throughout.
    /// </summary>
    [Collection(DistributedCollection.Name)]
    public sealed class LauncherFaultTests
    {
        private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

        private static string NewWorkDir(string what) =>
            Path.Combine(Path.GetTempPath(), "xtuner-" + what + "-" + Guid.NewGuid().ToString("N").Substring(0, 8));

        /// <summary>Waits until both ranks of the run in <paramref name="workDir"/> train (rank 0 wrote metrics).</summary>
        private static XTunerRun Training(string workDir, XTunerProcess launcher)
        {
            var deadline = DateTime.UtcNow + Limit;
            while (DateTime.UtcNow < deadline && !launcher.HasExited)
            {
                var run = XTunerRun.Load(workDir);
                if (run != null && run.Ranks.Count == 2 && run.LastStep != null) return run;
                Thread.Sleep(200);
            }
            throw new Xunit.Sdk.XunitException("the run did not start training\n" + launcher);
        }

        [Theory]
        [InlineData(ProcessSignals.SigTerm, 143, "SIGTERM")]
        [InlineData(1, 129, "SIGHUP")]
        public void A_signal_to_the_launcher_stops_the_ranks_and_records_the_run_as_stopped(int signal, int exitCode, string name)
        {
            var workDir = NewWorkDir("signal");
            // Under nohup (SIGHUP ignored, which children inherit) the launcher rightly ignores a hangup: start it with the default.
            using var launcher = XTunerProcess.LaunchVia(new[] { "env", "--default-signal=HUP" }, "train", "tiny-llama-sp2", "--work-dir", workDir, "--max-steps", "100000", "--cfg-options", "save_steps=0");
            var run = Training(workDir, launcher);

            var watch = Stopwatch.StartNew();
            Assert.Equal(0, Kill(launcher.ProcessId, signal));
            Assert.Equal(exitCode, launcher.WaitForExit(Limit));

            Assert.Contains($"{name}: stopping every rank...", launcher.Output);
            Assert.Equal(RunState.Stopped, XTunerRun.Load(workDir)!.State);
            Assert.All(run.Ranks, r => Assert.False(ProcessSignals.IsAlive(r.ProcessId), $"rank {r.Rank} outlived the stop"));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"stopping took {watch.Elapsed.TotalSeconds:F1} s");
            Assert.False(File.Exists(new WorkDirLayout(workDir).Lock), "the launcher left its lock");
        }

        [Fact]
        public void A_launcher_started_under_nohup_trains_on_through_a_hangup_and_stops_on_sigterm()
        {
            var workDir = NewWorkDir("nohup");
            using var launcher = XTunerProcess.LaunchVia(new[] { "nohup" }, "train", "tiny-llama-sp2", "--work-dir", workDir, "--max-steps", "100000", "--cfg-options", "save_steps=0");
            var run = Training(workDir, launcher);

            Assert.Equal(0, Kill(launcher.ProcessId, 1));
            var stepAtHangup = XTunerRun.Load(workDir)!.LastStep!.Step;
            var deadline = DateTime.UtcNow + Limit;
            while (DateTime.UtcNow < deadline && !launcher.HasExited && XTunerRun.Load(workDir)!.LastStep!.Step < stepAtHangup + 3) Thread.Sleep(200);
            Assert.False(launcher.HasExited, "the hangup ended the launcher\n" + launcher);
            Assert.Equal(RunState.Running, XTunerRun.Load(workDir)!.State);
            Assert.All(run.Ranks, r => Assert.True(ProcessSignals.IsAlive(r.ProcessId), $"rank {r.Rank} ended on the hangup"));

            Assert.Equal(0, Kill(launcher.ProcessId, ProcessSignals.SigTerm));
            Assert.Equal(143, launcher.WaitForExit(Limit));
            Assert.Equal(RunState.Stopped, XTunerRun.Load(workDir)!.State);
        }

        [Fact]
        public void Of_two_runs_started_together_in_one_work_dir_the_second_fails_before_writing_anything()
        {
            var workDir = NewWorkDir("twice");
            string[] args = { "train", "tiny-llama", "--work-dir", workDir, "--max-steps", "20", "--cfg-options", "save_steps=0" };
            using var first = XTunerProcess.Launch(args);
            using var second = XTunerProcess.Launch(args);
            var exits = new[] { first.WaitForExit(Limit), second.WaitForExit(Limit) };

            Assert.True(exits.Count(e => e == 0) == 1 && exits.Count(e => e == 1) == 1, $"{first}\n{second}");
            var loser = exits[0] == 1 ? first : second;
            Assert.Matches(@"^xtuner train: error \[XTunerWorkDirInUse\]: Another run holds .* \(process \d+ on ", loser.Error);
            Assert.DoesNotContain("Starting", loser.Output);
            // One run's metrics: steps 1..20 once each, in order.
            var steps = MetricsFile.Read(workDir).Select(s => s.Step).ToList();
            Assert.Equal(Enumerable.Range(1, 20), steps);
        }

        [Fact]
        public void A_disk_that_fills_during_the_run_ends_it_in_one_line_with_no_rank_left()
        {
            var outside = Directory.CreateDirectory(NewWorkDir("full-disk")).FullName;
            var mount = Directory.CreateDirectory(Path.Combine(outside, "disk")).FullName;
            // A private mount namespace holds a small tmpfs; once the run trains, a filler takes the rest of it.
            var script = string.Join("\n",
                "mount -t tmpfs -o size=32m tmpfs \"$1\" || exit 90",
                "\"$2\" \"$3\" train tiny-llama-sp2 --work-dir \"$1/run\" --max-steps 100000 --cfg-options save_steps=0 logging_interval=1 > \"$4/stdout\" 2> \"$4/stderr\" &",
                "pid=$!",
                "i=0; while [ ! -s \"$1/run/metrics.jsonl\" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done",
                "cat /dev/zero > \"$1/filler\" 2>/dev/null",
                "wait $pid; echo $? > \"$4/exit\"",
                "cp \"$1/run/run.json\" \"$4/run.json\"");
            var info = new ProcessStartInfo("unshare") { UseShellExecute = false, RedirectStandardError = true };
            foreach (var a in new[] { "-rm", "sh", "-c", script, "sh", mount, WorkerLocator.DotnetHost(), RankProcesses.Cli, outside }) info.ArgumentList.Add(a);
            using (var shell = Process.Start(info)!)
            {
                var shellError = shell.StandardError.ReadToEnd();
                Assert.True(shell.WaitForExit((int)Limit.TotalMilliseconds), "the run did not end");
                Assert.True(shell.ExitCode == 0, $"unshare/mount failed ({shell.ExitCode}): {shellError}");
            }

            var error = File.ReadAllText(Path.Combine(outside, "stderr"));
            Assert.Equal("1", File.ReadAllText(Path.Combine(outside, "exit")).Trim());
            Assert.Matches(@"^xtuner train: error \[XTuner(WorkDirWriteFailed|RankFailed)\]: ", error);
            Assert.Contains("No space left on device", error);
            Assert.DoesNotContain("   at ", error);
            // run.json could not be rewritten on the full disk; read back, it says the launcher is gone and so are the ranks.
            var record = XTunerRun.Load(outside)!;
            Assert.All(record.Ranks, r => Assert.False(ProcessSignals.IsAlive(r.ProcessId), $"rank {r.Rank} outlived the launcher"));
            Assert.NotEqual(RunState.Running, record.State);
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void A_resume_with_nothing_to_resume_says_so_and_starts_nothing(bool fromPath)
        {
            var workDir = NewWorkDir("resume");
            using var launcher = fromPath
                ? XTunerProcess.Launch("train", "tiny-llama", "--work-dir", workDir, "--resume", Path.Combine(workDir, "checkpoints", "step-000004"))
                : XTunerProcess.Launch("train", "tiny-llama", "--work-dir", workDir, "--resume");
            Assert.Equal(1, launcher.WaitForExit(Limit));
            Assert.StartsWith("xtuner train: error [XTunerNothingToResume]: ", launcher.Error);
            Assert.Contains(fromPath ? "is no complete checkpoint" : "There is nothing to resume in", launcher.Error);
            Assert.False(Directory.Exists(workDir), "the launcher wrote into the work dir");
        }

        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        private static extern int Kill(int pid, int signal);
    }
}
