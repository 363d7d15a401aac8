using System.Collections.Generic;
using System.Linq;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Planning;
using Xunit;

namespace XTuner.Core.Tests.Planning
{
    public class PlannerTests
    {
        private static PlanRequest Request(string name, int gpus, params string[] options)
        {
            var config = ConfigCatalogue.Get(name);
            ConfigYaml.ApplyOptions(config, options);
            var request = new PlanRequest(config) { Gpus = gpus };
            foreach (var o in options.Select(o => o.Split('=')[0]).Where(Planner.PinnableKeys.Contains)) request.Pinned.Add(o);
            return request;
        }

        [Fact]
        public void TheRecommendationIsTheFastestLayoutThatFits()
        {
            var plans = Planner.Plan(Request("llama2-7b-full-32k-sp1", 8));
            var best = Assert.Single(plans, p => p.Recommended);
            Assert.True(best.Fits);
            Assert.Equal(plans.Where(p => p.Fits).Max(p => p.TokensPerSecondPerGpu), best.TokensPerSecondPerGpu);
            Assert.Same(best, plans[0]);
            // Its config trains that layout on those GPUs.
            Assert.Equal((best.SequenceParallelSize, best.ZeroStage, 8, 1), (best.Config.SequenceParallelSize, best.Config.ZeroStage, best.Config.GpusPerNode, best.Config.Nodes));
            var sixteen = Planner.Plan(Request("llama2-7b-full-32k-sp1", 16))[0].Config;
            Assert.Equal((8, 2), (sixteen.GpusPerNode, sixteen.Nodes));
        }

        [Fact]
        public void PinnedChoicesAreTheOnlyOnesShown()
        {
            var plans = Planner.Plan(Request("llama2-7b-full-32k-sp1", 8, "zero_stage=0", "activation_checkpointing=true"));
            Assert.NotEmpty(plans);
            Assert.All(plans, p => Assert.Equal(0, p.ZeroStage));
            Assert.All(plans, p => Assert.True(p.ActivationCheckpointing));
            Assert.Equal(new[] { 1, 2, 4, 8 }, plans.Select(p => p.SequenceParallelSize).Distinct().OrderBy(s => s));
        }

        [Fact]
        public void AModelOverrideInTheOptionsChangesThePrediction()
        {
            var small = Planner.Plan(Request("llama2-7b-full-32k-sp1", 1, "zero_stage=0", "model.num_hidden_layers=16"));
            var whole = Planner.Plan(Request("llama2-7b-full-32k-sp1", 1, "zero_stage=0"));
            Assert.True(small.Min(p => p.PeakGpuMemoryGiB) < whole.Min(p => p.PeakGpuMemoryGiB) * 0.7,
                $"{small.Min(p => p.PeakGpuMemoryGiB)} against {whole.Min(p => p.PeakGpuMemoryGiB)}");
        }

        [Fact]
        public void SequenceParallelSizesDivideTheHeadsAndTheWorld()
        {
            // Yi-34B has 56 heads: SP 16 and 32 do not divide them.
            var sizes = Planner.Plan(Request("yi-34b-200k-full-128k-sp8", 32)).Select(p => p.SequenceParallelSize).Distinct().OrderBy(s => s);
            Assert.Equal(new[] { 1, 2, 4, 8 }, sizes);
        }

        [Theory]
        [InlineData(3)]
        [InlineData(16)]
        public void APinnedSequenceParallelSizeThatCannotWorkIsRefused(int size)
        {
            // Llama2-7B has 32 heads; 8 GPUs take SP 1, 2, 4 or 8.
            var e = Assert.Throws<XTunerException>(() => Planner.Plan(Request("llama2-7b-full-32k-sp1", 8, $"sequence_parallel_size={size}")));
            Assert.Equal(ErrorIds.InvalidSequenceParallelSize, e.ErrorId);
            Assert.Contains("sizes that work here: 1, 2, 4, 8", e.Message);
        }

        [Fact]
        public void WhenNothingFitsTheAdviceSaysWhatWould()
        {
            var request = Request("llama2-70b-full-1m-sp64", 8);
            request.GpuMemoryBytes = 80 * PlanAssumptions.Gib;
            var plans = Planner.Plan(request);
            Assert.DoesNotContain(plans, p => p.Fits);
            Assert.DoesNotContain(plans, p => p.Recommended);
            var advice = Planner.Advice(request, plans);
            Assert.NotNull(advice);
            Assert.Contains("No layout", advice);
            Assert.Contains("More GPUs", advice);
            Assert.Contains("shorter sequence", advice);
        }

        [Fact]
        public void PinnedOffOffloadIsNamedWhenOffloadWouldFit()
        {
            // The 7B at 32k on one 80 GiB GPU fits with the optimizer in host memory only (43.8 GiB measured on the H200).
            var request = Request("llama2-7b-full-32k-sp1", 1, "offload_optimizer=false", "activation_checkpointing=true", "zero_stage=0");
            request.GpuMemoryBytes = 80 * PlanAssumptions.Gib;
            var plans = Planner.Plan(request);
            var advice = Planner.Advice(request, plans);
            Assert.NotNull(advice);
            Assert.Contains("Leaving offload_optimizer to the planner: SP 1 x DP 1, ZeRO-0, offload_optimizer", advice);
        }

        [Fact]
        public void OneH200Holds64kOfThe7BButNot80k()
        {
            // The measured edge (examples/benchmarks/results/h200-2026-11-24-llama2-7b.jsonl, a build without the fused
            // kernels or cast_weights_per_layer): 64k trained, 80k ran out of memory.
            Assert.True(ForOneGpu(64 * 1024, fused: false, cast: false).Fits);
            Assert.False(ForOneGpu(80 * 1024, fused: false, cast: false).Fits);
        }

        [Fact]
        public void HostMemoryLimitsOffload()
        {
            var request = Request("llama2-7b-full-32k-sp1", 1, "zero_stage=0", "offload_optimizer=true", "activation_checkpointing=true", "offload_activations=false");
            request.HostMemoryBytes = 64 * PlanAssumptions.Gib;
            var plan = Assert.Single(Planner.Plan(request));
            Assert.True(plan.FitsGpu);
            Assert.False(plan.FitsHost);
            Assert.Equal("host memory", plan.Limit);
            // 75 GiB of float32 master and moments and the process itself.
            Assert.InRange(plan.HostMemoryPerNodeGiB, 76, 80);
        }

        [Fact]
        public void AssumptionsAreNamedAndOverridable()
        {
            var faster = PlanAssumptions.Default.With(PlanAssumptions.Parse(new[] { "matmul_tflops=1564,attention_tflops=1080" }));
            Assert.Equal(1564, faster["matmul_tflops"]);
            Assert.True(faster.All.Single(a => a.Name == "matmul_tflops").Overridden);
            var config = ConfigCatalogue.Get("llama2-7b-full-32k-sp1");
            config.ZeroStage = 0;
            config.GpusPerNode = 1;
            var slow = Planner.ForConfig(config, 141 * PlanAssumptions.Gib);
            var fast = Planner.ForConfig(config, 141 * PlanAssumptions.Gib, faster);
            Assert.True(fast.StepTimeSeconds < slow.StepTimeSeconds * 0.7);
            Assert.All(PlanAssumptions.Default.All, a => Assert.False(string.IsNullOrWhiteSpace(a.Source)));
            Assert.Equal(700, PlanAssumptions.Default.With(PlanAssumptions.Parse(new[] { "tflops=700" }))["matmul_tflops"]);
        }

        [Theory]
        [InlineData("flops=700")]
        [InlineData("matmul_tflops=fast")]
        [InlineData("matmul_tflops=0")]
        public void ABadAssumptionIsRefused(string text)
        {
            var e = Assert.Throws<XTunerException>(() => PlanAssumptions.Default.With(PlanAssumptions.Parse(new[] { text })));
            Assert.Equal(ErrorIds.InvalidPlanAssumption, e.ErrorId);
            Assert.Contains("matmul_tflops", e.Message);
        }

        [Fact]
        public void AConfigWithoutDimensionsIsRefused()
        {
            var config = new XTunerConfig { Name = "from-checkpoint", PretrainedModelNameOrPath = "/models/x" };
            var e = Assert.Throws<XTunerException>(() => Planner.Plan(new PlanRequest(config)));
            Assert.Equal(ErrorIds.PlanNeedsModel, e.ErrorId);
        }

        [Theory]
        [InlineData("141GiB", 141.0)]
        [InlineData("141GB", 141.0)]
        [InlineData("2TiB", 2048.0)]
        [InlineData("80g", 80.0)]
        [InlineData("1610612736", 1.5)]
        public void MemorySizesUseBinaryUnits(string text, double gib)
        {
            Assert.Equal(gib, MemorySize.Parse(text, "--gpu-memory") / PlanAssumptions.Gib, 6);
        }

        [Theory]
        [InlineData("141")]
        [InlineData("lots")]
        [InlineData("-5GiB")]
        public void AMemorySizeWithoutAUnitOrNumberIsRefused(string text)
        {
            var e = Assert.Throws<XTunerException>(() => MemorySize.Parse(text, "--gpu-memory"));
            Assert.Equal(ErrorIds.InvalidConfigValue, e.ErrorId);
            Assert.Contains("GiB", e.Message);
        }

        [Fact]
        public void AValueTrainingWouldRefuseIsRefusedHereButNotTheLayoutOrTheData()
        {
            var e = Assert.Throws<XTunerConfigException>(() => Planner.Plan(Request("llama2-7b-full-8k-sp1", 1, "gpu_memory_budget_gib=-3")));
            Assert.Equal(ErrorIds.InvalidConfigValue, e.ErrorId);
            Assert.Contains("gpu_memory_budget_gib must be a number of GiB above 0", e.Message);
            Assert.Throws<XTunerConfigException>(() => Planner.Plan(Request("llama2-7b-full-8k-sp1", 1, "lr=-1")));
            // The planner chooses the layout on its own GPUs, and planning reads no data.
            var request = Request("llama2-7b-full-128k-sp8", 1);
            request.Config.DataFiles.Clear();
            Assert.NotEmpty(Planner.Plan(request));
        }

        [Fact]
        public void ASlidingWindowShorterThanTheSequenceCostsLessAttentionAndOneAsLongCostsTheSame()
        {
            XTunerPlan Windowed(int length, int? window)
            {
                var config = ConfigCatalogue.Get("llama2-7b-full-8k-sp1");
                ConfigYaml.ApplyOptions(config, new[] { "zero_stage=0", "model.hidden_size=2048", "model.intermediate_size=5632",
                    "model.num_hidden_layers=22", "model.num_key_value_heads=4", "model.architecture=mistral" });
                config.GpusPerNode = 1;
                config.MaxLength = length;
                config.Model.SlidingWindow = window;
                return Planner.ForConfig(config, 141 * PlanAssumptions.Gib);
            }
            var causal = Windowed(131072, null);
            var window = Windowed(131072, 4096);
            // The 1.1B shape at 128k: measured 18.78 s causal (2026-11-24) and 10.44 s with a 4096 window (2026-12-03).
            Assert.InRange(window.Time.Attention / causal.Time.Attention, 0.3, 0.6);
            Assert.Equal(causal.Time.Matmuls, window.Time.Matmuls, 9);
            Assert.Equal(Windowed(4096, null).Time.Attention, Windowed(4096, 4096).Time.Attention, 9);
            // MFU counts the keys a query attends: about 4k of 64k here.
            Assert.True(window.Mfu < 0.5 * causal.Mfu, $"{window.Mfu} against {causal.Mfu}");
        }

        private static XTunerPlan ForOneGpu(int length, bool fused = true, bool cast = true)
        {
            var config = ConfigCatalogue.Get("llama2-7b-full-32k-sp1");
            if (!fused) config.FusedKernels = FusedKernelsMode.Off;
            if (!cast) config.CastWeightsPerLayer = WeightCastMode.Off;
            config.ZeroStage = 0;
            config.GpusPerNode = 1;
            config.MaxLength = length;
            return Planner.ForConfig(config, 141 * PlanAssumptions.Gib);
        }
    }
}
