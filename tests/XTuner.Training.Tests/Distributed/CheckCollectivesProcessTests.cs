using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace XTuner.Training.Tests.Distributed
{
    /// <summary>
    /// The CPU backend across real processes: <c>xtuner check-collectives</c> compares every collective, on the world
    /// and on sub-groups, with closed-form results; these tests start it as every rank of a world and read the verdict.
    /// </summary>
    [Collection(DistributedCollection.Name)]
    public class CheckCollectivesProcessTests
    {
        private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

        private static void AssertAllPassed(IReadOnlyList<RankResult> ranks, int worldSize)
        {
            var all = string.Join("\n", ranks);
            Assert.True(ranks.All(r => r.ExitCode == 0), all);
            Assert.DoesNotContain("FAIL", all);
            Assert.Contains($"checks passed on {worldSize} rank(s)", ranks[0].Output);
        }

        [Fact]
        public void OneProcessWorldNeedsNoRendezvous()
        {
            var ranks = RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() },
                Limit, "check-collectives", "--sizes", "0,1,7,1000");

            AssertAllPassed(ranks, 1);
            Assert.Contains("backend local", ranks[0].Output);
            Assert.Contains("ok all_to_all strided bfloat16 n=7 group=world[0]", ranks[0].Output);
        }

        [Fact]
        public void TwoRanksPassEveryCheckInEveryDtype()
        {
            var ranks = RankProcesses.RunWorld(2, Limit, "check-collectives", "--sizes", "0,1,7,1000");

            AssertAllPassed(ranks, 2);
            Assert.Contains("groups: world[0,1] pair0[0,1] reversed[1,0]", ranks[0].Output);
            Assert.Contains("ok reduce_scatter avg bfloat16 n=7 group=world[0,1]", ranks[0].Output);
            // Member 0 of the reversed group is rank 1, which reports its checks.
            Assert.Contains("ok all_gather int32 n=1000 group=reversed[1,0]", ranks[1].Output);
        }

        [Fact]
        public void RanksSharingAGpuPassEveryCheckThroughHostStaging()
        {
            // What ranks_per_gpu > 1 runs instead of NCCL; on the CPU the staging copies are plain host copies.
            var ranks = RankProcesses.RunWorld(2, Limit, "check-collectives", "--ranks-per-gpu", "2", "--dtypes", "float32,bfloat16,int64", "--sizes", "0,1,7,1000");

            AssertAllPassed(ranks, 2);
            Assert.Contains("backend tcp via host", ranks[0].Output);
            Assert.Contains("ok all_to_all strided bfloat16 n=7 group=world[0,1]", ranks[0].Output);
        }

        [Fact]
        public void ThreeRanksHandleSizesThatDoNotDivideAmongThem()
        {
            var ranks = RankProcesses.RunWorld(3, Limit, "check-collectives", "--dtypes", "float32,bfloat16,int64", "--sizes", "0,1,7,1001");

            AssertAllPassed(ranks, 3);
            Assert.Contains("ok all_reduce sum bfloat16 n=1001 group=world[0,1,2]", ranks[0].Output);
        }

        [Fact]
        public void FourRanksCheckTheSequenceAndDataParallelGroupsOfALayout()
        {
            var ranks = RankProcesses.RunWorld(4, Limit, "check-collectives", "--sp", "2", "--dtypes", "float32,bfloat16,int32", "--sizes", "0,3,1000");

            AssertAllPassed(ranks, 4);
            Assert.Contains("groups: world[0,1,2,3] sp0[0,1] sp1[2,3] dp0[0,2] dp1[1,3]", ranks[0].Output);
            Assert.Contains("ok all_to_all bfloat16 n=3 group=sp1[2,3]", ranks[2].Output);
            Assert.Contains("ok barrier group=dp1[1,3]", ranks[1].Output);
        }

        [Fact]
        public void SlurmTasksFindTheMasterFromTheNodeListAndTheJobId()
        {
            // Under SLURM the port is 15000 + SLURM_JOB_ID % 15000: choose a job id whose port is free here.
            int start = new Random().Next(15000);
            int jobId = Enumerable.Range(0, 15000).Select(i => (start + i) % 15000).First(id => FreePort.IsFree(15000 + id));
            var slurm = Enumerable.Range(0, 2).ToDictionary(r => r, r => new Dictionary<string, string>
            {
                ["SLURM_PROCID"] = r.ToString(),
                ["SLURM_LOCALID"] = r.ToString(),
                ["SLURM_NODEID"] = "0",
                ["SLURM_NTASKS"] = "2",
                ["SLURM_TASKS_PER_NODE"] = "2",
                ["SLURM_JOB_ID"] = jobId.ToString(),
                ["SLURM_JOB_NODELIST"] = "localhost",
                ["SLURM_STEP_NODELIST"] = "localhost",
            });

            var ranks = RankProcesses.Run(slurm, Limit, "check-collectives", "--launcher", "slurm", "--dtypes", "float32", "--sizes", "5");

            AssertAllPassed(ranks, 2);
            Assert.Contains("2 rank(s) (slurm)", ranks[0].Output);
        }

        [Fact]
        public void AMissingRankIsNamedAtTheTimeoutInsteadOfAHang()
        {
            int port = FreePort.Next();
            var started = DateTime.UtcNow;

            var ranks = RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = RankProcesses.Torchrun(0, 2, port) },
                Limit, "check-collectives", "--timeout", "2");

            Assert.Equal(1, ranks[0].ExitCode);
            Assert.Contains("[XTunerRendezvousTimeout]", ranks[0].Error);
            Assert.Contains("rank 1 of 2 did not arrive at 'init' within 2 s", ranks[0].Error);
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(20), "rank 0 should give up soon after its 2 s timeout");
        }

        [Fact]
        public void ARankThatDiesMidRunMakesTheOthersFailWithTheCause()
        {
            var started = DateTime.UtcNow;

            var ranks = RankProcesses.RunWorld(3, Limit, "check-collectives", "--dtypes", "float32", "--sizes", "7,1000", "--timeout", "120", "--fail-rank", "1");

            var all = string.Join("\n", ranks);
            Assert.Equal(3, ranks[1].ExitCode);
            foreach (var survivor in new[] { ranks[0], ranks[2] })
            {
                Assert.Equal(1, survivor.ExitCode);
                Assert.Contains("[XTunerPeerLost]", survivor.Error);
                // Directly or through the peer that stopped because of it, every survivor's error leads to rank 1.
                Assert.Contains("Rank 1 closed its connection during all_reduce on group world[0,1,2]", survivor.Error);
            }
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(30), "the survivors must fail at once, long before their 120 s timeout\n" + all);
        }
    }
}
