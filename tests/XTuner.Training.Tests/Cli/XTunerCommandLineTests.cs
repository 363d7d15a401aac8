using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using XTuner.Core.Configuration;
using XTuner.Core.Runs;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Cli
{
    /// <summary>
    /// XTuner's own command lines, as its README writes them, run by real xtuner processes: the launcher variables
    /// (NPROC_PER_NODE; NNODES, NODE_RANK, ADDR, PORT for one xtuner train per node), --deepspeed presets, srun tasks,
    /// a checkpoint given through --cfg-options, and the help, evaluate and benchmark commands' errors.
    /// </summary>
    [Collection(DistributedCollection.Name)]
    public sealed class XTunerCommandLineTests : IDisposable
    {
        private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);
        private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "xtuner-cli-" + Guid.NewGuid().ToString("N").Substring(0, 8))).FullName;

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        private static RankResult Xtuner(Dictionary<string, string> env, params string[] args) =>
            RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = env }, Limit, args)[0];

        /// <summary>A built-in config copied to a YAML file, as xtuner copy-cfg writes it.</summary>
        private string CopyConfig(string name)
        {
            var copied = Xtuner(new Dictionary<string, string>(), "copy-cfg", name, _dir);
            Assert.True(copied.ExitCode == 0, copied.ToString());
            return Path.Combine(_dir, name + "_copy.yaml");
        }

        private static string Header(string log) => File.ReadLines(log).First(l => l.StartsWith("xtuner rank ", StringComparison.Ordinal));

        [Fact]
        public void NprocPerNodeAndADeepSpeedPresetTrainAYamlConfig()
        {
            // NPROC_PER_NODE=8 xtuner train CONFIG --deepspeed deepspeed_zero2, with two CPU ranks.
            var work = Path.Combine(_dir, "zero2");
            var result = Xtuner(new Dictionary<string, string> { ["NPROC_PER_NODE"] = "2" },
                "train", CopyConfig("tiny-llama"), "--deepspeed", "deepspeed_zero2", "--work-dir", work, "--max-steps", "2");
            Assert.True(result.ExitCode == 0, result.ToString());
            var config = ConfigYaml.Load(Path.Combine(work, "config.yaml"));
            Assert.Equal((2, 2, 1), (config.ZeroStage, config.GpusPerNode, config.Nodes));
            var header = Header(Path.Combine(work, "logs", "rank0.log"));
            Assert.Contains("rank 0 of 2 (local 0 of 2 on node 0", header);
            Assert.Contains("xtuner launcher", header);
            Assert.Contains("zero 2", header);
        }

        [Fact]
        public void SrunTasksTakeADeepSpeedPresetWithLauncherSlurm()
        {
            // srun ... xtuner train CONFIG --launcher slurm --deepspeed deepspeed_zero3: two tasks of one node.
            var yaml = CopyConfig("tiny-llama-sp2");
            int port = FreePort.Next();
            var tasks = Enumerable.Range(0, 2).ToDictionary(r => r, r => new Dictionary<string, string>
            {
                ["SLURM_PROCID"] = r.ToString(),
                ["SLURM_LOCALID"] = r.ToString(),
                ["SLURM_NODEID"] = "0",
                ["SLURM_NTASKS"] = "2",
                ["SLURM_TASKS_PER_NODE"] = "2",
                ["SLURM_JOB_NODELIST"] = "localhost",
                ["MASTER_ADDR"] = "127.0.0.1",
                ["MASTER_PORT"] = port.ToString(),
            });
            var work = Path.Combine(_dir, "zero3");
            var ranks = RankProcesses.Run(tasks, Limit, "train", yaml, "--launcher", "slurm", "--deepspeed", "deepspeed_zero3", "--work-dir", work, "--max-steps", "2",
                "--cfg-options", "activation_checkpointing=true");
            Assert.All(ranks, r => Assert.True(r.ExitCode == 0, string.Join("\n", ranks)));
            Assert.Contains("srun", ranks[0].Output);
            Assert.Contains("zero 3", ranks[0].Output);
            Assert.Equal(new[] { 1, 2 }, MetricsFile.Read(work).Select(s => s.Step));
        }

        [Fact]
        public void OneXtunerTrainPerNodeWithNnodesNodeRankAddrAndPortTrainsAsOneMachineDoes()
        {
            // Two "machines" on loopback, one rank each, sharing a work dir as nodes on a shared file system do.
            var yaml = CopyConfig("tiny-llama");
            int port = FreePort.Next();
            var shared = Path.Combine(_dir, "nodes");
            var nodes = Enumerable.Range(0, 2).ToDictionary(n => n, n => new Dictionary<string, string>
            {
                ["NPROC_PER_NODE"] = "1",
                ["NNODES"] = "2",
                ["NODE_RANK"] = n.ToString(),
                ["ADDR"] = "127.0.0.1",
                ["PORT"] = port.ToString(),
                ["XTUNER_RUN_TOKEN"] = "a-secret-both-nodes-know",
            });
            var launched = RankProcesses.Run(nodes, Limit, "train", yaml, "--work-dir", shared, "--max-steps", "3");
            Assert.All(launched, r => Assert.True(r.ExitCode == 0, string.Join("\n", launched)));
            Assert.Contains("on node 1 of 2 (ranks 1-1 of 2)", launched[1].Output);
            Assert.Contains($"rank 0 of 2 (local 0 of 1 on node 0, master 127.0.0.1:{port}, xtuner launcher)", Header(Path.Combine(shared, "logs", "rank0.log")));
            var second = XTunerRun.Load(Path.Combine(shared, "node1"))!;
            Assert.Equal("Completed", second.State.ToString());
            Assert.Equal(1, Assert.Single(second.Ranks).Rank);

            var alone = Path.Combine(_dir, "one-machine");
            var single = Xtuner(new Dictionary<string, string> { ["NPROC_PER_NODE"] = "2" }, "train", yaml, "--work-dir", alone, "--max-steps", "3");
            Assert.True(single.ExitCode == 0, single.ToString());
            var expected = MetricsFile.Read(alone).Select(s => s.Loss).ToList();
            var actual = MetricsFile.Read(shared).Select(s => s.Loss).ToList();
            Assert.Equal(3, actual.Count);
            Assert.All(expected.Zip(actual), p => Assert.InRange(Math.Abs(p.First - p.Second), 0, 1e-5));
        }

        [Fact]
        public void NnodesWithoutNodeRankAddrOrPortNamesWhatIsMissing()
        {
            var result = Xtuner(new Dictionary<string, string> { ["NNODES"] = "2", ["NODE_RANK"] = "0" }, "train", "tiny-llama", "--work-dir", Path.Combine(_dir, "x"));
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("[XTunerInvalidRankEnvironment]: ADDR (node 0's address", result.Error);
            var beyond = Xtuner(new Dictionary<string, string> { ["NNODES"] = "2", ["NODE_RANK"] = "2", ["ADDR"] = "h", ["PORT"] = "1234" }, "train", "tiny-llama");
            Assert.Contains("NODE_RANK=2 must be below NNODES=2", beyond.Error);
            var open = Xtuner(new Dictionary<string, string> { ["NNODES"] = "2", ["NODE_RANK"] = "0", ["ADDR"] = "127.0.0.1", ["PORT"] = "1234" }, "train", "tiny-llama",
                "--work-dir", Path.Combine(_dir, "x"));
            Assert.Equal(1, open.ExitCode);
            Assert.Contains("[XTunerRunTokenMissing]: A run over 2 nodes needs one secret", open.Error);
            Assert.False(Directory.Exists(Path.Combine(_dir, "x")));
        }

        [Fact]
        public void AnUnknownDeepSpeedPresetIsAUsageErrorListingTheKnownOnes()
        {
            var result = Xtuner(new Dictionary<string, string>(), "train", "tiny-llama", "--deepspeed", "deepspeed_zero4");
            Assert.Equal(2, result.ExitCode);
            Assert.Contains("--deepspeed takes deepspeed_zero1, deepspeed_zero2, deepspeed_zero3, deepspeed_zero2_offload, deepspeed_zero3_offload, not 'deepspeed_zero4'", result.Error);
        }

        [Theory]
        [InlineData("deepspeed_zero2_offload", 2)]
        [InlineData("zero3_offload", 3)]
        public void AnOffloadPresetSetsTheStageAndKeepsTheOptimizerShardInHostMemory(string preset, int stage)
        {
            var work = Path.Combine(_dir, preset);
            var result = Xtuner(new Dictionary<string, string> { ["NPROC_PER_NODE"] = "2" }, "train", "tiny-llama", "--deepspeed", preset, "--max-steps", "2",
                "--work-dir", work, "--cfg-options", "activation_checkpointing=true");
            Assert.True(result.ExitCode == 0, result.ToString());
            var config = ConfigYaml.Load(Path.Combine(work, "config.yaml"));
            Assert.Equal((stage, true), (config.ZeroStage, config.OffloadOptimizer));
            Assert.Equal(new[] { 1, 2 }, MetricsFile.Read(work).Select(s => s.Step));
        }

        [Fact]
        public void ACheckpointThroughCfgOptionsReplacesTheTemplatesArchitecture()
        {
            var checkpoint = Path.Combine(AppContext.BaseDirectory, "data", "hf-tiny", "tiny-llama");
            var work = Path.Combine(_dir, "from-checkpoint");
            var result = Xtuner(new Dictionary<string, string>(), "train", CopyConfig("tiny-llama"), "--work-dir", work, "--max-steps", "1", "--cfg-options",
                "pretrained_model_name_or_path=" + checkpoint, "dataset_format=tokenized", "data_files=[builtin:tokenized-sample]");
            Assert.True(result.ExitCode == 0, result.ToString());
            var config = ConfigYaml.Load(Path.Combine(work, "config.yaml"));
            Assert.Equal(checkpoint, config.PretrainedModelNameOrPath);
            Assert.Null(config.Model.HiddenSize);
            Assert.Null(config.Tokenizer);
        }

        [Fact]
        public void HelpWithACommandPrintsThatCommandsUsage()
        {
            var help = Xtuner(new Dictionary<string, string>(), "help", "train");
            Assert.Equal(0, help.ExitCode);
            Assert.StartsWith("usage: xtuner train [CONFIG] [options]", help.Output);
            Assert.Contains("--deepspeed", help.Output);
            Assert.Contains("NPROC_PER_NODE", help.Output);
        }

        [Fact]
        public void ABenchmarkWhoseEveryRunFailedExitsWithAnErrorAndBenchmarksStartedTogetherKeepApart()
        {
            // A sequence-parallel size that does not divide the heads fails every run at once; two benchmarks start in the same second.
            var both = RankProcesses.Run(Enumerable.Range(0, 2).ToDictionary(i => i, i => new Dictionary<string, string>()), Limit,
                "benchmark", "tiny-llama", "--lengths", "64,128", "--steps", "2", "--nproc-per-node", "3", "--cfg-options", "sequence_parallel_size=3");
            Assert.All(both, r =>
            {
                Assert.Equal(1, r.ExitCode);
                Assert.Contains("error [XTunerBenchmarkFailed]: No length trained (64, 128)", r.Error);
            });
            var folders = both.Select(r => Regex.Match(r.Output, @"runs in (\S+)").Groups[1].Value).ToList();
            Assert.All(folders, f => Assert.NotEqual("", f));
            Assert.NotEqual(folders[0], folders[1]);
            foreach (var f in folders.Where(Directory.Exists)) Directory.Delete(f, recursive: true);
        }

        [Fact]
        public void ABenchmarkLineRecordsWhatTellsItsRunApart()
        {
            var output = Path.Combine(Path.GetTempPath(), $"xtuner-bench-{Guid.NewGuid():N}.jsonl");
            try
            {
                var run = RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() }, Limit,
                    "benchmark", "tiny-llama", "--lengths", "64", "--steps", "1", "--nproc-per-node", "1", "--output", output,
                    "--cfg-options", "synthetic_document_length=20", "use_varlen_attn=true")[0];
                Assert.Equal(0, run.ExitCode);
                var line = System.Text.Json.JsonDocument.Parse(File.ReadAllLines(output).Single()).RootElement;
                Assert.Equal(787584, line.GetProperty("parameters").GetInt64());
                Assert.Equal("cpu", line.GetProperty("device").GetString());
                Assert.Equal(64, line.GetProperty("length").GetInt32());
                Assert.True(line.GetProperty("use_varlen_attn").GetBoolean());
                Assert.Equal(20, line.GetProperty("synthetic_document_length").GetInt32());
                Assert.Equal("auto", line.GetProperty("fused_kernels").GetString());
                Assert.True(line.GetProperty("host_memory_gib").GetDouble() > 0);
                foreach (var key in new[] { "offload_optimizer", "offload_activations", "mlp_tiles", "activation_checkpointing", "peak_device_gib_per_rank", "peak_host_gib_per_rank", "recomputed_layers", "attention_kept_layers", "date" })
                    Assert.True(line.TryGetProperty(key, out _), key);
                Assert.True(line.GetProperty("ok").GetBoolean());
                Assert.Equal(System.Text.Json.JsonValueKind.Null, line.GetProperty("phase_times_s").ValueKind);
            }
            finally
            {
                File.Delete(output);
            }
        }

        [Fact]
        public void ABenchmarkWithPhasesSaysWhereEachStepsTimeWent()
        {
            var output = Path.Combine(Path.GetTempPath(), $"xtuner-bench-{Guid.NewGuid():N}.jsonl");
            try
            {
                var run = RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() }, Limit,
                    "benchmark", "tiny-llama-sp2", "--lengths", "128", "--steps", "2", "--phases", "--output", output,
                    "--cfg-options", "activation_checkpointing=true")[0];
                Assert.True(run.ExitCode == 0, run.Output + run.Error);
                Assert.Contains("Where a step's time goes", run.Output);
                Assert.Matches(@"\| backward/recompute/attention \| [0-9.]+ \([0-9.]+ %\) \|", run.Output);
                var line = System.Text.Json.JsonDocument.Parse(File.ReadAllLines(output).Single()).RootElement;
                var phases = line.GetProperty("phase_times_s").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
                foreach (var name in new[] { "other", "forward", "forward/attention", "forward/attention/all_to_all", "forward/matmul", "forward/norm", "loss",
                             "backward", "backward/recompute", "backward/recompute/attention", "backward/recompute/matmul", "backward/recompute/norm", "optimizer" })
                    Assert.True(phases.TryGetValue(name, out var seconds) && seconds > 0, $"{name} missing or not positive: {string.Join(", ", phases)}");
                // The phases cover the step: their sum is its time (both from the same clock on the CPU, within what the step's own clock adds around them).
                double step = line.GetProperty("step_time_s").GetDouble();
                Assert.InRange(phases.Values.Sum(), 0.97 * step, 1.001 * step);
            }
            finally
            {
                File.Delete(output);
            }
        }
    }
}
