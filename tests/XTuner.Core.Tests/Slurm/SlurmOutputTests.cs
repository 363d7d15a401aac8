using System;
using System.IO;
using XTuner.Core.Runs;
using XTuner.Core.Slurm;
using Xunit;

namespace XTuner.Core.Tests.Slurm
{
    /// <summary>Reading what SLURM 22.05 prints (scontrol show job -o, srun's task errors), copied from real output.</summary>
    public class SlurmOutputTests
    {
        private const string Failed =
            "JobId=2 JobName=a b#c\"d'e UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901758 Nice=0 Account=(null) QOS=(null) " +
            "JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=143:0 RunTime=00:00:00 " +
            "TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-24T09:54:33 EligibleTime=2026-11-24T09:54:33 AccrueTime=2026-11-24T09:54:33 " +
            "StartTime=2026-11-24T09:54:34 EndTime=2026-11-24T09:54:35 Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-24T09:54:34 " +
            "Scheduler=Main Partition=debug AllocNode:Sid=localhost:5666 ReqNodeList=(null) ExcNodeList=(null) NodeList=gpu[01-02] BatchHost=gpu01 " +
            "NumNodes=2 NumCPUs=2 NumTasks=8 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=2,node=1,billing=2 Socks/Node=* NtasksPerN:B:S:C=2:0:*:* " +
            "CoreSpec=* MinCPUsNode=2 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 " +
            "Licenses=(null) Network=(null) Command=/tmp/my work/submit.sbatch WorkDir=/tmp/my work StdErr=/tmp/my work/slurm-2.err StdIn=/dev/null " +
            "StdOut=/tmp/my work/slurm-2.out Power= ";

        private const string Pending =
            "JobId=3 JobName=x UserId=root(0) JobState=PENDING Reason=BeginTime Dependency=(null) Requeue=1 Restarts=1 BatchFlag=1 ExitCode=0:0 " +
            "TimeLimit=01:00:00 SubmitTime=2026-11-24T09:54:51 StartTime=Unknown EndTime=Unknown Partition=debug NodeList=(null) NumNodes=1 NumTasks=2 " +
            "WorkDir=/w StdErr=/w/slurm-3.err StdOut=/w/slurm-3.out";

        [Fact]
        public void ScontrolFieldsKeepSpacesAndSlashesAndReadUnsetAsNull()
        {
            var r = ScontrolRecord.Parse(Failed);
            Assert.Equal("a b#c\"d'e", r.Get("JobName"));
            Assert.Equal("/tmp/my work", r.Get("WorkDir"));
            Assert.Equal("/tmp/my work/slurm-2.err", r.Get("StdErr"));
            Assert.Equal("1", r.Get("CPUs/Task"));
            Assert.Equal("0:0:*:*", r.Get("ReqB:S:C:T"));
            Assert.Equal("cpu=2,node=1,billing=2", r.Get("TRES"));
            Assert.Null(r.Get("Account"));
            Assert.Null(r.Get("Power"));
            Assert.Null(r.Get("Deadline"));
            Assert.Equal((143, 0), r.GetExitCode());
            Assert.Equal(new DateTime(2026, 11, 24, 9, 54, 35), r.GetTime("EndTime"));
            Assert.Null(ScontrolRecord.Parse(Pending).GetTime("StartTime"));
        }

        [Fact]
        public void AFailedJobRecordFillsTheJob()
        {
            var job = new XTunerJob();
            SlurmJobs.Apply(job, ScontrolRecord.Parse(Failed));
            Assert.Equal(("2", SlurmJobState.Failed, "FAILED", "NonZeroExitCode"), (job.JobId, job.State, job.StateText, job.Reason));
            Assert.Equal(("gpu[01-02]", 2, 8), (job.Nodes, job.NodeCount, job.Ranks));
            Assert.Equal(143, job.ExitCode);
            Assert.Null(job.Signal);
            Assert.Equal("/tmp/my work", job.WorkDir);
            Assert.Equal("/tmp/my work/submit.sbatch", job.ScriptPath);
            Assert.True(job.IsFinal);
        }

        [Fact]
        public void APendingJobHasNoExitCodeYet()
        {
            var job = new XTunerJob();
            SlurmJobs.Apply(job, ScontrolRecord.Parse(Pending));
            Assert.Equal((SlurmJobState.Pending, "BeginTime", 1), (job.State, job.Reason, job.Restarts));
            Assert.Null(job.ExitCode);
            Assert.Null(job.Nodes);
            Assert.Null(job.EndTime);
            Assert.False(job.IsFinal);
            Assert.Equal("01:00:00", job.TimeLimit);
        }

        [Fact]
        public void ScontrolPrintsOneRecordPerLine()
        {
            var all = ScontrolRecord.ParseAll(Failed + "\n" + Pending + "\n\n");
            Assert.Equal(new[] { "2", "3" }, new[] { all[0].Get("JobId"), all[1].Get("JobId") });
        }

        [Theory]
        [InlineData("PENDING", SlurmJobState.Pending, false)]
        [InlineData("RUNNING", SlurmJobState.Running, false)]
        [InlineData("COMPLETING", SlurmJobState.Completing, false)]
        [InlineData("REQUEUED", SlurmJobState.Requeued, false)]
        [InlineData("COMPLETED", SlurmJobState.Completed, true)]
        [InlineData("CANCELLED", SlurmJobState.Cancelled, true)]
        [InlineData("CANCELLED by 0", SlurmJobState.Cancelled, true)]
        [InlineData("CANCELLED+", SlurmJobState.Cancelled, true)]
        [InlineData("NODE_FAIL", SlurmJobState.NodeFail, true)]
        [InlineData("OUT_OF_MEMORY", SlurmJobState.OutOfMemory, true)]
        [InlineData("TIMEOUT", SlurmJobState.Timeout, true)]
        [InlineData("STAGE_OUT", SlurmJobState.Unknown, false)]
        [InlineData("7", SlurmJobState.Unknown, false)]
        [InlineData("", SlurmJobState.Unknown, false)]
        public void StatesParseFromSlurmNames(string text, SlurmJobState state, bool final)
        {
            Assert.Equal(state, SlurmJobStates.Parse(text));
            Assert.Equal(final, SlurmJobStates.Parse(text).IsFinal());
        }

        [Fact]
        public void OnlyBrokenEndsAreFailures()
        {
            Assert.False(SlurmJobState.Completed.IsFailure());
            Assert.False(SlurmJobState.Cancelled.IsFailure());
            Assert.False(SlurmJobState.Running.IsFailure());
            Assert.True(SlurmJobState.Failed.IsFailure());
            Assert.True(SlurmJobState.Timeout.IsFailure());
        }

        [Fact]
        public void SrunNamesTheRankThatFailedNotTheOnesItTerminated()
        {
            var text = "xtuner: job 2 on localhost, restart 0: xtuner train \n" +
                       "srun: error: localhost: task 0: Terminated\n" +
                       "srun: error: node7: task 1: Exited with exit code 3\n" +
                       "srun: launch/slurm: _step_signal: Terminating StepId=2.0\n" +
                       "srun: Force Terminated StepId=2.0\n";
            var f = SrunReport.FirstFailure(text)!;
            Assert.Equal((1, "node7", "Exited with exit code 3", (int?)3), (f.Rank, f.Host, f.Description, f.ExitCode));
        }

        [Fact]
        public void SrunReportsOfEarlierStartsOfARequeuedJobAreIgnored()
        {
            var text = "xtuner: job 3 on localhost, restart 0: xtuner train \n" +
                       "srun: error: localhost: tasks 0-1: Terminated\n" +
                       "xtuner: job 3 on localhost, restart 1: xtuner train --resume\n" +
                       "srun: error: localhost: tasks 2,5-6: Killed\n";
            var f = SrunReport.FirstFailure(text)!;
            Assert.Equal((2, "Killed", (int?)null), (f.Rank, f.Description, f.ExitCode));
            Assert.Null(SrunReport.FirstFailure("xtuner: job 3 on localhost, restart 0: xtuner train \nall good\n"));
        }

        [Fact]
        public void AFailureNamesTheRankAndItsLogWithItsLastLines()
        {
            var dir = TempDir.Create();
            try
            {
                Directory.CreateDirectory(Path.Combine(dir, "logs"));
                File.WriteAllText(Path.Combine(dir, "logs", "rank1.log"), "loading\nerror [XTunerPathNotFound]: /data/x.jsonl does not exist\n");
                File.WriteAllText(Path.Combine(dir, "slurm-9.err"), "xtuner: job 9 on localhost, restart 0: xtuner train \nsrun: error: localhost: task 1: Exited with exit code 1\n");
                var job = new XTunerJob { JobId = "9", State = SlurmJobState.Failed, WorkDir = dir, ErrorFile = Path.Combine(dir, "slurm-9.err") };
                var e = SlurmJobs.Failure(job)!;
                Assert.Equal(ErrorIds.JobFailed, e.ErrorId);
                Assert.Contains("rank 1 on localhost: Exited with exit code 1", e.Message);
                Assert.Contains(Path.Combine(dir, "logs", "rank1.log"), e.Message);
                Assert.Contains("/data/x.jsonl does not exist", e.Message);
                Assert.Null(SlurmJobs.Failure(new XTunerJob { State = SlurmJobState.Completed }));
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Fact]
        public void TheJobFileRoundTripsAndReadsTheLatestMetrics()
        {
            var dir = TempDir.Create();
            try
            {
                var job = new XTunerJob { JobId = "12", Name = "n", State = SlurmJobState.Running, WorkDir = dir, Ranks = 2, Nodes = "localhost" };
                job.Save();
                MetricsFile.Append(dir, new XTunerStep { Step = 1, TotalSteps = 3, Loss = 5.5 });
                MetricsFile.Append(dir, new XTunerStep { Step = 2, TotalSteps = 3, Loss = 5.25 });
                var loaded = XTunerJob.Load(dir)!;
                Assert.Equal(("12", SlurmJobState.Running, 2, "localhost"), (loaded.JobId, loaded.State, loaded.Ranks, loaded.Nodes));
                Assert.Equal((2, 3, (double?)5.25), (loaded.Step, loaded.TotalSteps, loaded.Loss));
                Assert.Null(XTunerJob.Load(Path.Combine(dir, "nothing")));
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Fact]
        public void SbatchReceivesAScriptPathWithBackslashesAndSpacesUnchanged()
        {
            var dir = TempDir.Create();
            try
            {
                var received = Path.Combine(dir, "received");
                FakeProgram.Write(dir, "sbatch", $"printf '%s' \"$2\" > '{received}'; echo 42");
                var script = Path.Combine(dir, "a\\b c", "submit.sbatch");
                Assert.Equal("42", new SlurmClient(searchPath: dir).Submit(script, dir));
                Assert.Equal(script, File.ReadAllText(received));
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Fact]
        public void AMissingSbatchIsSlurmNotFound()
        {
            var client = new SlurmClient(searchPath: "/nonexistent-xtuner-path");
            Assert.False(client.IsAvailable);
            var e = Assert.Throws<XTunerException>(() => client.Submit("/tmp/x.sbatch", "/tmp"));
            Assert.Equal(ErrorIds.SlurmNotFound, e.ErrorId);
            Assert.Contains("'sbatch' was not found on PATH", e.Message);
        }
    }
}
