using System.Collections;
using System.Linq;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using Xunit;

namespace XTuner.Core.Tests.Launch
{
    /// <summary>XTuner's launcher variables (NPROC_PER_NODE, NNODES, NODE_RANK, ADDR, PORT) and the plan of one node they give.</summary>
    public sealed class NodeVariablesTests : System.IDisposable
    {
        private readonly string _dir = TempDir.Create();

        public void Dispose() => System.IO.Directory.Delete(_dir, recursive: true);

        private static Hashtable Env(params string[] pairs)
        {
            var env = new Hashtable();
            foreach (var pair in pairs) env[pair.Split('=')[0]] = pair.Substring(pair.IndexOf('=') + 1);
            return env;
        }

        [Fact]
        public void NprocPerNodeAloneSetsTheRanksOfThisMachine()
        {
            var options = new LaunchOptions();
            NodeVariables.FromEnvironment(Env("NPROC_PER_NODE=8")).ApplyTo(options);
            Assert.Equal((8, (int?)null, 0), (options.GpusPerNode, options.Nodes, options.NodeRank));
        }

        [Fact]
        public void TheCommandLineWinsOverNprocPerNode()
        {
            var options = new LaunchOptions { GpusPerNode = 2 };
            NodeVariables.FromEnvironment(Env("NPROC_PER_NODE=8")).ApplyTo(options);
            Assert.Equal(2, options.GpusPerNode);
        }

        [Fact]
        public void SeveralNodesWithoutASharedSecretAreRefused()
        {
            var e = Assert.Throws<XTunerException>(() => NodeVariables.FromEnvironment(Env("NNODES=2", "NODE_RANK=0", "ADDR=10.1.2.3", "PORT=29600")));
            Assert.Equal(ErrorIds.RunTokenMissing, e.ErrorId);
            Assert.Contains("set XTUNER_RUN_TOKEN to the same value on every node", e.Message);
        }

        [Fact]
        public void NodeOneOfTwoRunsTheSecondBlockOfRanksAgainstNodeZerosStore()
        {
            var options = LaunchPlannerTests.Options(_dir, DeviceKind.Cpu, 1);
            options.GpusPerNode = null;
            NodeVariables.FromEnvironment(Env("NPROC_PER_NODE=2", "NNODES=2", "NODE_RANK=1", "ADDR=10.1.2.3", "PORT=29600", "XTUNER_RUN_TOKEN=s")).ApplyTo(options);
            var plan = LaunchPlanner.PlanLocal(ConfigCatalogue.Get("tiny-llama"), options);
            Assert.Equal((2, 2, 4), (plan.Config.Nodes, plan.Config.GpusPerNode, plan.Config.WorldSize));
            Assert.Equal(new[] { 2, 3 }, plan.Ranks.Select(r => r.Rank));
            Assert.Equal(new[] { 0, 1 }, plan.Ranks.Select(r => r.LocalRank));
            var identity = RankEnvironment.FromEnvironment(
                LaunchPlannerTests.EnvironmentOf(plan, plan.Ranks[1]).ToDictionary(p => p.Key, p => (object)p.Value), slurm: false);
            Assert.Equal((3, 4, 1, 2, 1, "10.1.2.3", 29600, RankLauncher.Local),
                (identity.Rank, identity.WorldSize, identity.LocalRank, identity.LocalWorldSize, identity.NodeRank, identity.MasterAddress, identity.MasterPort, identity.Launcher));
            // Its own run record and logs, inside the shared work dir.
            Assert.Equal(System.IO.Path.Combine(_dir, "work", "node1"), plan.WorkDir);
            Assert.DoesNotContain(plan.Ranks, r => r.Environment.ContainsKey(XTuner.Core.Runs.RunEvent.EnvironmentVariable));
        }

        [Theory]
        [InlineData("NNODES=2|NODE_RANK=0|PORT=1", "ADDR (node 0's address")]
        [InlineData("NNODES=2|ADDR=h|PORT=1", "NODE_RANK (this machine's index")]
        [InlineData("NNODES=2|NODE_RANK=0|ADDR=h", "PORT (a free port on node 0")]
        [InlineData("NNODES=2|NODE_RANK=2|ADDR=h|PORT=1", "NODE_RANK=2 must be below NNODES=2")]
        [InlineData("NPROC_PER_NODE=eight", "NPROC_PER_NODE='eight' is not a whole number")]
        [InlineData("PORT=70000", "PORT=70000 must be between 1 and 65535")]
        public void AnIncompleteOrContradictoryLaunchNamesTheVariable(string pairs, string message)
        {
            var e = Assert.Throws<XTunerException>(() => NodeVariables.FromEnvironment(Env(pairs.Split('|'))));
            Assert.Equal(ErrorIds.InvalidRankEnvironment, e.ErrorId);
            Assert.Contains(message, e.Message);
        }

        [Fact]
        public void SeveralNodesWithoutNnodesAreStillRefusedSayingHow()
        {
            var options = LaunchPlannerTests.Options(_dir, DeviceKind.Cpu, 1);
            options.ConfigOptions.Add("nodes=2");
            var e = Assert.Throws<XTunerConfigException>(() => LaunchPlanner.PlanLocal(ConfigCatalogue.Get("tiny-llama"), options));
            Assert.Contains("NNODES, NODE_RANK, ADDR and PORT", e.Message);
        }
    }
}
