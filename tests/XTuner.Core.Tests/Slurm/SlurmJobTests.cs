using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using XTuner.Core.Catalogue;
using XTuner.Core.Launch;
using XTuner.Core.Runs;
using XTuner.Core.Slurm;
using Xunit;

namespace XTuner.Core.Tests.Slurm
{
    [CollectionDefinition("slurm", DisableParallelization = true)]
    public sealed class SlurmCollection
    {
    }

    /// <summary>
    /// Jobs submitted to the real controller (.ci/slurm-setup.sh), with bash scripts standing in for xtuner ranks: what
    /// is tested here is sbatch, srun, scontrol and scancel, not training.
    /// </summary>
    [Collection("slurm")]
    public class SlurmJobTests : IDisposable
    {
        private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);
        private readonly string _dir = TempDir.Create();
        private readonly List<string> _jobs = new List<string>();

        public void Dispose()
        {
            foreach (var id in _jobs) SlurmCluster.Run("scancel", id);
            Directory.Delete(_dir, recursive: true);
        }

        /// <summary>A plan for tiny-llama-sp2 (2 CPU ranks) whose ranks run <paramref name="body"/> under bash.</summary>
        private SlurmPlan Plan(string body, params string[] configOptions)
        {
            SlurmCluster.Require();
            var fake = Path.Combine(_dir, "rank.sh");
            // Arguments: train CONFIG --launcher slurm [--resume]; the work dir is the config's folder.
            File.WriteAllText(fake, "work=$(dirname \"$2\")\necho \"$SLURM_PROCID $*\" >> \"$work/starts.txt\"\n" + body + "\n");
            var options = new LaunchOptions
            {
                BaseDirectory = _dir,
                WorkDir = Path.Combine(_dir, "work"),
                Worker = new WorkerCommand("/bin/bash", new[] { fake }),
                ConfigOptions = configOptions.ToList(),
            };
            var plan = SlurmLauncher.Plan(ConfigCatalogue.Get("tiny-llama-sp2"), options);
            plan.AllocationJobId = null;
            return plan;
        }

        private XTunerJob Submit(SlurmPlan plan)
        {
            var job = SlurmLauncher.Submit(plan);
            _jobs.Add(job.JobId);
            return job;
        }

        private static XTunerJob WaitUntil(XTunerJob job, Func<XTunerJob, bool> condition)
        {
            var deadline = DateTime.UtcNow + Patience;
            while (!condition(SlurmJobs.Refresh(job)))
            {
                Assert.True(DateTime.UtcNow < deadline, $"job {job.JobId} stayed {job.StateText} ({job.Reason})");
                Thread.Sleep(200);
            }
            return job;
        }

        private static XTunerJob WaitForEnd(XTunerJob job)
        {
            using var timeout = new CancellationTokenSource(Patience);
            return SlurmJobs.Wait(job, null, timeout.Token, TimeSpan.FromMilliseconds(200));
        }

        private static List<int> ProcessesWith(string marker) =>
            Directory.EnumerateDirectories("/proc").Select(d => Path.GetFileName(d)).Where(n => n.All(char.IsDigit))
                .Where(pid =>
                {
                    try
                    {
                        return File.ReadAllText($"/proc/{pid}/cmdline").Contains(marker);
                    }
                    catch (IOException)
                    {
                        return false;
                    }
                })
                .Select(int.Parse).ToList();

        [SlurmFact]
        public void ABadPartitionIsRefusedAtSubmitWithSbatchsMessage()
        {
            var plan = Plan("exit 0", "slurm.partition=no-such-partition");
            var e = Assert.Throws<XTunerException>(() => SlurmLauncher.Submit(plan));
            Assert.Equal(ErrorIds.SlurmSubmitFailed, e.ErrorId);
            Assert.Contains("invalid partition specified: no-such-partition", e.Message);
            Assert.Null(XTunerJob.Load(plan.WorkDir));
        }

        [SlurmFact]
        public void ACompletedJobReportsItsNodesRanksExitCodeAndMetrics()
        {
            var plan = Plan(
                "if [ \"$SLURM_PROCID\" = 0 ]; then for s in 1 2 3; do " +
                "echo \"{\\\"step\\\":$s,\\\"total_steps\\\":3,\\\"loss\\\":$((10 - s)).5}\" >> \"$work/metrics.jsonl\"; sleep 0.3; done; fi\n" +
                "echo \"threads=$OMP_NUM_THREADS nccl=$NCCL_NVLS_ENABLE\"");
            var job = Submit(plan);
            Assert.Equal(plan.WorkDir, job.WorkDir);
            Assert.Contains(job.State, new[] { SlurmJobState.Pending, SlurmJobState.Running, SlurmJobState.Completing, SlurmJobState.Completed });
            var seen = new List<SlurmJobState>();
            using var timeout = new CancellationTokenSource(Patience);
            job = SlurmJobs.Wait(job, j => seen.Add(j.State), timeout.Token, TimeSpan.FromMilliseconds(100));
            Assert.Equal(SlurmJobState.Completed, job.State);
            Assert.Equal(SlurmJobState.Completed, seen.Last());
            Assert.Equal((0, "localhost", 1, 2), (job.ExitCode, job.Nodes, job.NodeCount, job.Ranks));
            Assert.Equal((3, 3, (double?)7.5), (job.Step, job.TotalSteps, job.Loss));
            Assert.Equal("tiny-llama-sp2", job.Name);
            Assert.Equal(Path.Combine(plan.WorkDir, $"slurm-{job.JobId}.err"), job.ErrorFile);
            // Each rank's output went to its own log, with the environment the script exported.
            Assert.Contains("threads=1 nccl=0", File.ReadAllText(Path.Combine(plan.WorkDir, "logs", "rank1.log")));
            Assert.Equal(new[] { "0", "1" }, File.ReadAllLines(Path.Combine(plan.WorkDir, "starts.txt")).Select(l => l.Split(' ')[0]).OrderBy(x => x));
            Assert.Contains($"train {plan.ConfigPath} --launcher slurm", File.ReadAllText(Path.Combine(plan.WorkDir, "starts.txt")));
            // The work dir remembers the job, also by id.
            Assert.Equal(SlurmJobState.Completed, SlurmJobs.GetByWorkDir(plan.WorkDir).State);
            Assert.Equal(plan.WorkDir, SlurmJobs.Get(job.JobId).WorkDir);
        }

        [SlurmFact]
        public void StoppingALongJobEndsItAndLeavesNoRankProcess()
        {
            var marker = "xtuner-fake-rank-" + Guid.NewGuid().ToString("N");
            var plan = Plan($"touch \"$work/started.$SLURM_PROCID\"\nexec -a {marker} sleep 300");
            var job = Submit(plan);
            // A second job into the same work dir would mix checkpoints.
            var again = Assert.Throws<XTunerException>(() => SlurmLauncher.Submit(plan));
            Assert.Equal(ErrorIds.InvalidConfig, again.ErrorId);
            Assert.Contains($"SLURM job {job.JobId}", again.Message);
            // A rank touches its file just before it execs the marked sleep: wait for both processes, not the files.
            WaitUntil(job, j => j.State == SlurmJobState.Running && File.Exists(Path.Combine(plan.WorkDir, "started.1")) &&
                                File.Exists(Path.Combine(plan.WorkDir, "started.0")) && ProcessesWith(marker).Count == 2);
            job = SlurmJobs.Cancel(job, TimeSpan.FromSeconds(60));
            Assert.Equal(SlurmJobState.Cancelled, job.State);
            Assert.Empty(ProcessesWith(marker));
            Assert.False(job.State.IsFailure());
        }

        [SlurmFact]
        public void AFailedJobNamesTheRankThatFailedAndItsLog()
        {
            var plan = Plan("if [ \"$SLURM_PROCID\" = 1 ]; then echo 'error [XTunerPathNotFound]: /data/missing.jsonl does not exist' >&2; exit 3; fi\nexec sleep 120");
            var job = WaitForEnd(Submit(plan));
            Assert.Equal(SlurmJobState.Failed, job.State);
            Assert.NotEqual(0, job.ExitCode);
            var e = SlurmJobs.Failure(job)!;
            Assert.Equal(ErrorIds.JobFailed, e.ErrorId);
            Assert.Contains($"SLURM job {job.JobId} failed (FAILED): rank 1 on localhost: Exited with exit code 3", e.Message);
            Assert.Contains(Path.Combine(plan.WorkDir, "logs", "rank1.log"), e.Message);
            Assert.Contains("/data/missing.jsonl does not exist", e.Message);
        }

        [SlurmFact]
        public void InsideAnAllocationTheStepRunsThereAndSubmitWaitsForIt()
        {
            var plan = Plan(
                "if [ \"$SLURM_PROCID\" = 0 ]; then echo '{\"step\":1,\"total_steps\":1,\"loss\":2.5}' >> \"$work/metrics.jsonl\"; fi\n" +
                "echo \"job $SLURM_JOB_ID step $SLURM_STEP_ID\"");
            var (code, output) = SlurmCluster.Run("salloc", "--no-shell --ntasks=2 --job-name=xtuner-test-allocation");
            Assert.True(code == 0, output);
            var allocation = System.Text.RegularExpressions.Regex.Match(output, @"Granted job allocation (\d+)").Groups[1].Value;
            _jobs.Add(allocation);
            plan.AllocationJobId = allocation;
            var updates = 0;
            var job = SlurmLauncher.Submit(plan, _ => updates++);
            Assert.Equal((allocation, SlurmJobState.Completed, (int?)0, true), (job.JobId, job.State, job.ExitCode, job.InAllocation));
            Assert.True(updates > 0);
            Assert.Equal(1, job.Step);
            Assert.Contains($"job {allocation} step 0", File.ReadAllText(Path.Combine(plan.WorkDir, "logs", "rank0.log")));
            Assert.Equal(SlurmJobState.Completed, SlurmJobs.GetByWorkDir(plan.WorkDir).State);
        }
    }
}
