using System;
using System.IO;
using System.Linq;
using System.Threading;
using XTuner.Core.Launch;
using XTuner.Core.Runs;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Cli
{
    /// <summary>
    /// Stopping a run after a checkpoint: the first Ctrl+C of xtuner train (as a terminal sends it, to the whole process
    /// group) and Stop-XTunerTraining -Checkpoint (RunControl) let every rank save at the end of its step and end; the
    /// resumed run ends with the losses of an uninterrupted one.
    /// </summary>
    [Collection(DistributedCollection.Name)]
    public class CheckpointAndStopTests
    {
        private const int Steps = 150;
        private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

        private static string NewWorkDir(string name) => Path.Combine(Path.GetTempPath(), $"xtuner-{name}-" + Guid.NewGuid().ToString("N").Substring(0, 8));

        private static string[] Train(string workDir, params string[] more) =>
            new[] { "train", "tiny-llama-sp2", "--work-dir", workDir, "--max-steps", Steps.ToString(), "--cfg-options", "save_steps=0" }.Concat(more).ToArray();

        private static void WaitForSteps(string workDir, int steps, XTunerProcess launcher)
        {
            var deadline = DateTime.UtcNow + Limit;
            while ((XTunerRun.Load(workDir)?.Step ?? 0) < steps)
            {
                Assert.False(launcher.HasExited, launcher.ToString());
                Assert.True(DateTime.UtcNow < deadline, "the ranks did not train:\n" + launcher);
                Thread.Sleep(50);
            }
        }

        private static int Finish(XTunerProcess process)
        {
            var code = process.WaitForExit(Limit);
            Assert.True(code != null, "did not end:\n" + process);
            return code!.Value;
        }

        /// <summary>The stopped run: Stopped, one checkpoint at the step it stopped after, every rank exited 0, no export.</summary>
        private static int AssertStoppedWithCheckpoint(string workDir)
        {
            var run = XTunerRun.Open(workDir);
            Assert.Equal(RunState.Stopped, run.State);
            Assert.All(run.Ranks, r => Assert.Equal(0, r.ExitCode));
            var checkpoint = Assert.Single(Directory.GetDirectories(new WorkDirLayout(workDir).Checkpoints));
            Assert.Equal($"step-{run.Step:D6}", Path.GetFileName(checkpoint));
            Assert.True(run.Step < Steps, $"stopped after step {run.Step}, the last");
            Assert.False(Directory.Exists(new WorkDirLayout(workDir).Model), "a stopped run exports no model");
            return run.Step;
        }

        private static double[] ResumedLosses(string workDir)
        {
            using var resumed = XTunerProcess.Launch(Train(workDir, "--resume"));
            Assert.True(Finish(resumed) == 0, resumed.ToString());
            Assert.Equal(RunState.Completed, XTunerRun.Open(workDir).State);
            return MetricsFile.Read(workDir).Select(s => s.Loss).ToArray();
        }

        private static double[] UninterruptedLosses()
        {
            var workDir = NewWorkDir("uninterrupted");
            using var run = XTunerProcess.Launch(Train(workDir));
            Assert.True(Finish(run) == 0, run.ToString());
            return MetricsFile.Read(workDir).Select(s => s.Loss).ToArray();
        }

        [Fact]
        public void TheFirstCtrlCAtTheTerminalSavesACheckpointAndTheResumedRunEndsWithTheUninterruptedLosses()
        {
            var workDir = NewWorkDir("ctrl-c");
            // setsid: the launcher leads a process group of its own, as a shell's foreground job; Ctrl+C goes to all of it.
            using (var launcher = XTunerProcess.LaunchVia(new[] { "setsid" }, Train(workDir)))
            {
                WaitForSteps(workDir, 3, launcher);
                Assert.True(ProcessSignals.Send(-launcher.ProcessId, 2), "SIGINT to the process group");
                Assert.Equal(130, Finish(launcher));
                Assert.Contains("every rank saves a checkpoint", launcher.Output);
                Assert.Contains("stopped on request after step", launcher.Output);
            }
            AssertStoppedWithCheckpoint(workDir);
            Assert.Equal(UninterruptedLosses(), ResumedLosses(workDir));
        }

        [Fact]
        public void RunControlCheckpointAndStopEndsTheRunAfterACheckpointThatResumes()
        {
            var workDir = NewWorkDir("checkpoint-stop");
            using (var launcher = XTunerProcess.Launch(Train(workDir)))
            {
                WaitForSteps(workDir, 3, launcher);
                var run = RunControl.CheckpointAndStop(workDir, CancellationToken.None);
                Assert.Equal(RunState.Stopped, run.State);
                Finish(launcher);
            }
            Assert.False(File.Exists(Path.Combine(workDir, RunControl.StopFileName)));
            int step = AssertStoppedWithCheckpoint(workDir);
            var losses = ResumedLosses(workDir);
            Assert.Equal(Steps, losses.Length);
            Assert.Contains("resumed from", File.ReadAllText(new WorkDirLayout(workDir).RankLog(0)));
            Assert.True(step >= 3);
        }

        [Fact]
        public void ACheckpointRequestIsReadAsOneAndAPlainOneAsAStop()
        {
            var workDir = NewWorkDir("requests");
            Directory.CreateDirectory(workDir);
            Assert.Equal(StopRequest.None, RunControl.ReadRequest(workDir));
            File.WriteAllText(Path.Combine(workDir, RunControl.StopFileName), "checkpoint 123");
            Assert.Equal(StopRequest.Stop, RunControl.ReadRequest(workDir));
            File.WriteAllText(Path.Combine(workDir, RunControl.StopFileName), RunControl.CheckpointWord + " host 123");
            Assert.Equal(StopRequest.CheckpointAndStop, RunControl.ReadRequest(workDir));
        }
    }
}
