using System.Collections;
using System.Collections.Generic;
using XTuner.Core.Launch;
using Xunit;

namespace XTuner.Core.Tests.Launch
{
    public class RankEnvironmentTests
    {
        private static Hashtable Env(params string[] pairs)
        {
            var env = new Hashtable();
            foreach (var pair in pairs)
            {
                var eq = pair.IndexOf('=');
                env[pair.Substring(0, eq)] = pair.Substring(eq + 1);
            }
            return env;
        }

        private static Hashtable Torchrun(int rank, int world, int localRank, int localWorld) => Env(
            $"RANK={rank}", $"WORLD_SIZE={world}", $"LOCAL_RANK={localRank}", $"LOCAL_WORLD_SIZE={localWorld}",
            "MASTER_ADDR=10.0.0.5", "MASTER_PORT=29500");

        private static void AssertInvalid(IDictionary env, bool slurm, params string[] fragments)
        {
            var e = Assert.Throws<XTunerException>(() => RankEnvironment.FromEnvironment(env, slurm));
            Assert.Equal(ErrorIds.InvalidRankEnvironment, e.ErrorId);
            foreach (var fragment in fragments) Assert.Contains(fragment, e.Message);
        }

        [Fact]
        public void NoVariablesMeansOneProcess()
        {
            var env = RankEnvironment.FromEnvironment(Env("PATH=/bin"), slurm: false);
            Assert.Equal(RankLauncher.Single, env.Launcher);
            Assert.Equal((0, 1, 0, 1), (env.Rank, env.WorldSize, env.LocalRank, env.LocalWorldSize));
            Assert.False(env.IsDistributed);
        }

        [Fact]
        public void XtunersOwnLauncherIsNamedAsItselfNotAsTorchrun()
        {
            var vars = Torchrun(1, 2, 1, 2);
            Assert.Contains("torchrun variables)", RankEnvironment.FromEnvironment(vars, slurm: false).ToString());
            vars[LaunchPlanner.LauncherPidVariable] = "4242";
            var env = RankEnvironment.FromEnvironment(vars, slurm: false);
            Assert.Equal(RankLauncher.Local, env.Launcher);
            Assert.Equal("rank 1 of 2 (local 1 of 2 on node 0, master 10.0.0.5:29500, xtuner launcher)", env.ToString());
        }

        [Fact]
        public void TheRunsSecretAndBindAddressComeFromTheirVariablesAndAreNeverPrinted()
        {
            var env = Torchrun(1, 8, 1, 4);
            env["XTUNER_RUN_TOKEN"] = "s3cret";
            env["XTUNER_BIND_ADDR"] = " 10.0.0.7 ";
            var rank = RankEnvironment.FromEnvironment(env, slurm: false);
            Assert.Equal("s3cret", rank.RunToken);
            Assert.Equal("10.0.0.7", rank.BindAddress);
            Assert.False(rank.IsSingleNode);
            Assert.DoesNotContain("s3cret", rank.ToString());
            var plain = RankEnvironment.FromEnvironment(Torchrun(1, 4, 1, 4), slurm: false);
            Assert.Null(plain.RunToken);
            Assert.True(plain.IsSingleNode);
        }

        [Fact]
        public void ReadsTorchrunVariables()
        {
            var env = RankEnvironment.FromEnvironment(Torchrun(6, 8, 2, 4), slurm: false);
            Assert.Equal(RankLauncher.Torchrun, env.Launcher);
            Assert.Equal((6, 8, 2, 4, 1), (env.Rank, env.WorldSize, env.LocalRank, env.LocalWorldSize, env.NodeRank));
            Assert.Equal(("10.0.0.5", 29500), (env.MasterAddress, env.MasterPort));
            Assert.True(env.IsDistributed);
        }

        [Fact]
        public void GroupRankGivesTheNodeIndex()
        {
            var vars = Torchrun(5, 8, 1, 4);
            vars["GROUP_RANK"] = "3";
            Assert.Equal(3, RankEnvironment.FromEnvironment(vars, slurm: false).NodeRank);
        }

        [Fact]
        public void TorchrunVariablesRoundTrip()
        {
            var env = RankEnvironment.FromEnvironment(Torchrun(3, 4, 3, 4), slurm: false);
            var again = RankEnvironment.FromEnvironment(new Hashtable((IDictionary)new Dictionary<string, string>(env.ToTorchrunVariables())), slurm: false);
            Assert.Equal(env.ToString(), again.ToString());
        }

        [Fact]
        public void OneRankWorldNeedsNoMaster()
        {
            var env = RankEnvironment.FromEnvironment(Env("RANK=0", "WORLD_SIZE=1"), slurm: false);
            Assert.Equal((0, 1, 0), (env.Rank, env.WorldSize, env.MasterPort));
        }

        [Fact]
        public void WorldSizeWithoutRankNamesRank()
        {
            AssertInvalid(Env("WORLD_SIZE=4"), false, "RANK is not set", "WORLD_SIZE");
        }

        [Fact]
        public void RankWithoutWorldSizeNamesWorldSize()
        {
            AssertInvalid(Env("RANK=1", "LOCAL_RANK=1"), false, "WORLD_SIZE is not set", "RANK and LOCAL_RANK are");
        }

        [Fact]
        public void RankMustBeBelowWorldSize()
        {
            AssertInvalid(Torchrun(4, 4, 0, 4), false, "RANK=4 must be below WORLD_SIZE=4");
        }

        [Fact]
        public void LocalRankMustBeBelowLocalWorldSize()
        {
            AssertInvalid(Torchrun(1, 4, 2, 2), false, "LOCAL_RANK=2 must be below LOCAL_WORLD_SIZE=2");
        }

        [Fact]
        public void LocalWorldSizeMustNotExceedWorldSize()
        {
            AssertInvalid(Torchrun(1, 2, 1, 4), false, "LOCAL_WORLD_SIZE=4 must not exceed WORLD_SIZE=2");
        }

        [Theory]
        [InlineData("MASTER_ADDR")]
        [InlineData("MASTER_PORT")]
        [InlineData("LOCAL_RANK")]
        [InlineData("LOCAL_WORLD_SIZE")]
        public void MissingVariableIsNamed(string name)
        {
            var env = Torchrun(1, 2, 1, 2);
            env.Remove(name);
            AssertInvalid(env, false, name);
        }

        [Theory]
        [InlineData("RANK", "one", "RANK='one' is not a whole number")]
        [InlineData("WORLD_SIZE", "0", "WORLD_SIZE=0 must be 1 or more")]
        [InlineData("MASTER_PORT", "70000", "MASTER_PORT=70000 must be between 1 and 65535")]
        [InlineData("RANK", "-1", "RANK=-1 must be 0 or more")]
        public void BadNumbersAreNamed(string name, string value, string message)
        {
            var env = Torchrun(1, 2, 1, 2);
            env[name] = value;
            AssertInvalid(env, false, message);
        }

        private static Hashtable Slurm(int procId, int nodeId, int localId, params string[] extra)
        {
            var env = Env("SLURM_NTASKS=8", "SLURM_TASKS_PER_NODE=4(x2)", "SLURM_JOB_ID=123456",
                "SLURM_JOB_NODELIST=gpu[07-08]", "SLURM_STEP_NODELIST=gpu[07-08]");
            env["SLURM_PROCID"] = procId.ToString();
            env["SLURM_NODEID"] = nodeId.ToString();
            env["SLURM_LOCALID"] = localId.ToString();
            foreach (DictionaryEntry e in Env(extra)) env[e.Key] = e.Value;
            return env;
        }

        [Fact]
        public void ReadsSlurmTaskVariablesOfTwoNodesOfFour()
        {
            var env = RankEnvironment.FromEnvironment(Slurm(5, 1, 1), slurm: true);
            Assert.Equal(RankLauncher.Slurm, env.Launcher);
            Assert.Equal((5, 8, 1, 4, 1), (env.Rank, env.WorldSize, env.LocalRank, env.LocalWorldSize, env.NodeRank));
            Assert.Equal("gpu07", env.MasterAddress);
            Assert.Equal(RankEnvironment.SlurmPortBase + 123456 % RankEnvironment.SlurmPortSpan, env.MasterPort);
        }

        [Fact]
        public void SlurmPortIsUnprivilegedAndBelowTheEphemeralRange()
        {
            for (long job = 0; job < 100_000; job += 997)
            {
                var env = RankEnvironment.FromEnvironment(Slurm(0, 0, 0, $"SLURM_JOB_ID={job}"), slurm: true);
                Assert.InRange(env.MasterPort, 1024, 32767);
            }
        }

        [Fact]
        public void SlurmTakesMasterVariablesWhenSet()
        {
            var env = RankEnvironment.FromEnvironment(Slurm(0, 0, 0, "MASTER_ADDR=head", "MASTER_PORT=29555"), slurm: true);
            Assert.Equal(("head", 29555), (env.MasterAddress, env.MasterPort));
        }

        [Fact]
        public void SlurmPrefersTheStepNodeList()
        {
            var env = RankEnvironment.FromEnvironment(Slurm(0, 0, 0, "SLURM_STEP_NODELIST=gpu08"), slurm: true);
            Assert.Equal("gpu08", env.MasterAddress);
        }

        [Fact]
        public void SlurmNtasksPerNodeWinsOverTheCompressedForm()
        {
            var env = RankEnvironment.FromEnvironment(Slurm(1, 0, 1, "SLURM_NTASKS_PER_NODE=2", "SLURM_NTASKS=8"), slurm: true);
            Assert.Equal(2, env.LocalWorldSize);
        }

        [Fact]
        public void UnevenSlurmNodesUseThisNodesCount()
        {
            var env = RankEnvironment.FromEnvironment(Slurm(4, 1, 0, "SLURM_NTASKS=5", "SLURM_TASKS_PER_NODE=4,1"), slurm: true);
            Assert.Equal(1, env.LocalWorldSize);
        }

        [Fact]
        public void SlurmWithoutProcIdSaysToUseSrun()
        {
            AssertInvalid(Env("SLURM_JOB_ID=1"), true, "SLURM_PROCID", "srun");
        }

        [Fact]
        public void SlurmTaskCountsMustAddUp()
        {
            AssertInvalid(Slurm(0, 0, 0, "SLURM_NTASKS=6"), true, "adds up to 8 tasks but SLURM_NTASKS is 6");
        }

        [Fact]
        public void SlurmLocalIdMustFitTheNode()
        {
            AssertInvalid(Slurm(0, 0, 4), true, "SLURM_LOCALID=4");
        }

        [Fact]
        public void SlurmWithoutPortOrJobIdNamesBoth()
        {
            var env = Slurm(0, 0, 0);
            env.Remove("SLURM_JOB_ID");
            AssertInvalid(env, true, "MASTER_PORT", "SLURM_JOB_ID");
        }

        [Fact]
        public void SlurmBadNodeListNamesTheVariable()
        {
            AssertInvalid(Slurm(0, 0, 0, "SLURM_STEP_NODELIST=gpu[07-"), true, "SLURM_STEP_NODELIST", "MASTER_ADDR");
        }

        [Fact]
        public void UnderSlurmTorchrunVariablesAreIgnored()
        {
            var env = RankEnvironment.FromEnvironment(Slurm(2, 0, 2, "RANK=7", "WORLD_SIZE=99"), slurm: true);
            Assert.Equal((2, 8), (env.Rank, env.WorldSize));
        }

        [Theory]
        [InlineData(3, 8, 3)]
        [InlineData(3, 1, 0)]
        [InlineData(0, 4, 0)]
        public void CudaDeviceIsTheLocalRankOrTheOnlyVisibleGpu(int localRank, int visible, int expected)
        {
            var env = new RankEnvironment(localRank, 4, localRank, 4, 0, "h", 1, RankLauncher.Torchrun);
            Assert.Equal(expected, env.CudaDeviceIndex(visible));
        }

        [Theory]
        [InlineData(2, 4, 1)]
        [InlineData(16, 4, 4)]
        [InlineData(16, 1, 16)]
        public void CpuThreadsAreTheNodesCoresSharedAmongItsRanks(int cores, int localRanks, int expected)
        {
            var env = new RankEnvironment(0, 8, 0, localRanks, 0, "h", 1, RankLauncher.Torchrun);
            Assert.Equal(expected, env.CpuThreadsPerRank(cores));
        }

        [Fact]
        public void NoGpuAtAllIsCudaUnavailable()
        {
            var e = Assert.Throws<XTunerException>(() => RankEnvironment.Single.CudaDeviceIndex(0));
            Assert.Equal(ErrorIds.CudaUnavailable, e.ErrorId);
        }

        [Fact]
        public void TooFewGpusForTheNodesRanksIsAnError()
        {
            var env = new RankEnvironment(3, 4, 3, 4, 0, "h", 1, RankLauncher.Torchrun);
            var e = Assert.Throws<XTunerException>(() => env.CudaDeviceIndex(2));
            Assert.Contains("4 ranks but the process sees 2 CUDA devices", e.Message);
        }
    }
}
