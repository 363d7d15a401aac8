using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Cli
{
    /// <summary><c>xtuner plan</c>: the table, the JSON lines, pins, the advice when nothing fits, and --validate.</summary>
    [Collection(DistributedCollection.Name)]
    public class PlanCommandTests
    {
        private static RankResult Xtuner(params string[] args) =>
            RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() }, TimeSpan.FromMinutes(1), args)[0];

        [Fact]
        public void TheTableMarksTheRecommendedLayoutAndPrintsEveryAssumption()
        {
            var plan = Xtuner("plan", "llama2-7b-full-32k-sp1", "--gpus", "8");
            Assert.Equal(0, plan.ExitCode);
            Assert.Contains("on 8 GPU(s) of 141 GiB", plan.Output);
            Assert.Contains("| * |", plan.Output);
            Assert.Contains("Recommended: SP ", plan.Output);
            Assert.Contains("--cfg-options sequence_parallel_size=", plan.Output);
            foreach (var name in new[] { "matmul_tflops", "attention_tflops", "nvlink_gbps", "network_gbps", "pcie_gbps", "headroom_gib" })
                Assert.Contains("  " + name + " ", plan.Output);
        }

        [Fact]
        public void JsonLinesCarryTheLayoutAndPinnedChoicesAreTheOnlyOnes()
        {
            var plan = Xtuner("plan", "llama2-7b-full-32k-sp1", "--gpus", "8", "--json", "--cfg-options", "zero_stage=3", "--assume", "nvlink_gbps=200");
            Assert.Equal(0, plan.ExitCode);
            var lines = plan.Output.Split('\n').Where(l => l.Trim().Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.NotEmpty(lines);
            foreach (var key in new[] { "sequence_parallel_size", "zero_stage", "offload_optimizer", "offload_activations", "activation_checkpointing", "fits", "peak_gpu_memory_gib", "step_time_s" })
                Assert.All(lines, l => Assert.True(l.TryGetProperty(key, out _), key));
            Assert.All(lines, l => Assert.Equal(3, l.GetProperty("zero_stage").GetInt32()));
            Assert.True(lines[0].GetProperty("recommended").GetBoolean());
        }

        [Fact]
        public void TheRecomputeColumnSaysWhatAutoKeeps()
        {
            // The 1.1B shape at 32k within transformers' 36.96 GiB, weights cast per layer: 3 layers skip their recompute and
            // the other 19 keep attention (the H200 ran 2 and 20 in 34.57 GiB, 2026-12-04, before the planner counted the
            // first whole layer as sparing the recompute's working set).
            var plan = Xtuner("plan", "llama2-7b-full-32k-sp1", "--gpus", "1", "--cfg-options", "max_length=32768", "zero_stage=0", "sequence_parallel_size=1",
                "offload_optimizer=false", "offload_activations=false", "activation_checkpointing=auto", "gpu_memory_budget_gib=36.96", "model.hidden_size=2048",
                "model.intermediate_size=5632", "model.num_hidden_layers=22", "model.num_key_value_heads=4");
            Assert.Equal(0, plan.ExitCode);
            Assert.Contains("| 19 of 22 layers, 19 keep attention |", plan.Output);
            var json = Xtuner("plan", "llama2-7b-full-32k-sp1", "--gpus", "1", "--json", "--cfg-options", "max_length=32768", "zero_stage=0", "sequence_parallel_size=1",
                "offload_optimizer=false", "offload_activations=false", "activation_checkpointing=true", "recompute_attention=5", "model.hidden_size=2048",
                "model.intermediate_size=5632", "model.num_hidden_layers=22", "model.num_key_value_heads=4");
            var line = JsonDocument.Parse(json.Output.Split('\n').First(l => l.Trim().Length > 0)).RootElement;
            Assert.Equal(22, line.GetProperty("recomputed_layers").GetInt32());
            Assert.Equal(5, line.GetProperty("attention_recomputed_layers").GetInt32());
        }

        [Fact]
        public void WhenNothingFitsItSaysWhatWouldAndExits1()
        {
            var plan = Xtuner("plan", "llama2-70b-full-1m-sp64", "--gpus", "8", "--gpu-memory", "80GiB");
            Assert.Equal(1, plan.ExitCode);
            Assert.Contains("[XTunerNoLayoutFits]", plan.Error);
            Assert.Contains("More GPUs: 16 fit", plan.Error);
            Assert.Contains("A shorter sequence", plan.Error);
            Assert.DoesNotContain("   at ", plan.Error);
        }

        [Fact]
        public void BadSizesAndAssumptionsAreErrorsWithTheirIds()
        {
            var size = Xtuner("plan", "tiny-llama", "--gpu-memory", "141");
            Assert.Equal(1, size.ExitCode);
            Assert.Contains("[XTunerInvalidConfigValue]", size.Error);
            var assumption = Xtuner("plan", "tiny-llama", "--assume", "warp=9");
            Assert.Equal(1, assumption.ExitCode);
            Assert.Contains("[XTunerInvalidPlanAssumption]", assumption.Error);
        }

        [Fact]
        public void ValidatePrintsTheErrorTableOfTheRecordedBenchmarks()
        {
            var results = Path.Combine(RepositoryRoot(), "examples", "benchmarks", "results");
            var validate = Xtuner("plan", "--validate", results);
            Assert.Equal(0, validate.ExitCode);
            Assert.Contains("| case | measured peak GiB | predicted GiB | error |", validate.Output);
            Assert.Contains("h200-2026-12-02-offload.jsonl:4 6.7B, 32k, zero_stage=0, offload_optimizer=true", validate.Output);
            Assert.Contains("(allowed 10%)", validate.Output);
        }

        private static string RepositoryRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "XTuner.sln"))) return dir.FullName;
            throw new InvalidOperationException("XTuner.sln not found above " + AppContext.BaseDirectory);
        }
    }
}
