using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Planning;
using XTuner.Training.Engine;
using Xunit;

namespace XTuner.Training.Tests.Engine
{
    /// <summary>activation_checkpointing resolved into the number of layers (the first ones) that recompute.</summary>
    public class AutoRecomputeTests
    {
        private static XTunerConfig TinyLlama11B(int length, LayerCount recompute)
        {
            var config = ConfigCatalogue.Get("llama2-7b-full-8k-sp1");
            config.ZeroStage = 0;
            config.GpusPerNode = 1;
            config.MaxLength = length;
            config.Model.HiddenSize = 2048;
            config.Model.IntermediateSize = 5632;
            config.Model.NumHiddenLayers = 22;
            config.Model.NumKeyValueHeads = 4;
            config.ActivationCheckpointing = recompute;
            // The trainer asks with the kernels it runs: none in this CPU process.
            config.FusedKernels = FusedKernelsMode.Off;
            return config;
        }

        private static int Resolve(XTunerConfig config, double? free) => TrainingSetup.Recompute(config, config.Model, free, 1, null).Layers;

        private static int Kept(XTunerConfig config, double free) => 22 - RecomputeBudget.Choose(config, 1, free).Layers;

        [Fact]
        public void AutoRecomputesWhatThePlannerSaysDoesNotFit()
        {
            const double H200 = 141 * PlanAssumptions.Gib;
            var config = TinyLlama11B(65536, LayerCount.Auto);
            int kept = Kept(config, H200);
            Assert.InRange(kept, 1, 21);
            Assert.Equal(22 - kept, Resolve(config, H200));
            // All of them fit at 8k: nothing recomputes; less memory recomputes more.
            Assert.Equal(0, Resolve(TinyLlama11B(8192, LayerCount.Auto), H200));
            Assert.True(Resolve(config, 80 * PlanAssumptions.Gib) > 22 - kept);
        }

        [Fact]
        public void AutoRecomputesEveryLayerOnTheCpuAndUnderZero3()
        {
            Assert.Equal(22, Resolve(TinyLlama11B(65536, LayerCount.Auto), null));
            var zero3 = TinyLlama11B(65536, LayerCount.Auto);
            zero3.ZeroStage = 3;
            Assert.Equal(22, Resolve(zero3, 141 * PlanAssumptions.Gib));
        }

        [Fact]
        public void AutoCountsWhatTheLayersKeepWithTheKernelsThatRunNotThoseTheConfigAllows()
        {
            const double H200 = 141 * PlanAssumptions.Gib;
            // fused_kernels auto on CUDA, in a process whose kernels are off (this CPU one): the unfused sizes decide.
            var config = TinyLlama11B(131072, LayerCount.Auto);
            config.FusedKernels = FusedKernelsMode.Auto;
            var unfused = TinyLlama11B(131072, LayerCount.Auto);
            Assert.Equal(22 - Kept(unfused, H200), Resolve(config, H200));
            Assert.True(Resolve(config, H200) > 22 - Kept(config, H200));
        }

        [Fact]
        public void AutoKeepsWithinTheGpuMemoryBudgetWhereItIsBelowTheFreeMemory()
        {
            const double H200 = 141 * PlanAssumptions.Gib;
            var config = TinyLlama11B(8192, LayerCount.Auto);
            Assert.Equal(0, Resolve(config, H200));
            // transformers' 19.9 GiB for this shape at 8k is below even full recompute's peak: every layer recomputes.
            config.GpuMemoryBudgetGib = 19.9;
            Assert.Equal(22, Resolve(config, H200));
            config.GpuMemoryBudgetGib = 30;
            Assert.InRange(Resolve(config, H200), 1, 21);
        }

        [Theory]
        [InlineData("true", 22)]
        [InlineData("false", 0)]
        [InlineData("5", 5)]
        [InlineData("40", 22)]
        public void AFixedChoiceIsTakenAsItIs(string value, int layers)
        {
            Assert.True(LayerCount.TryParse(value, out var recompute));
            Assert.Equal(layers, Resolve(TinyLlama11B(65536, recompute), 141 * PlanAssumptions.Gib));
        }

        [Fact]
        public void TheChoiceLineReadsBackAsItWasWritten()
        {
            var line = AutoRecomputeLine.Format(new RecomputeChoice(22, 4), 22, 100 * PlanAssumptions.Gib, 36.96);
            Assert.Contains("gpu_memory_budget_gib 36.96", line);
            Assert.Equal((22, 22, 18), AutoRecomputeLine.Find("rank 0: " + line + "\nmore"));
            Assert.Null(AutoRecomputeLine.Find("memory: optimizer states on the device"));
        }

        [Fact]
        public void AutoAlsoKeepsAttentionWhereThatIsTheFasterUseOfTheMemory()
        {
            const double H200 = 141 * PlanAssumptions.Gib;
            var config = TinyLlama11B(32768, LayerCount.Auto);
            config.GpuMemoryBudgetGib = 37;
            var choice = TrainingSetup.Recompute(config, config.Model, H200, 1, null);
            Assert.True(choice.AttentionKeptLayers > 0, choice.ToString());
            Assert.Equal(RecomputeBudget.Choose(config, 1, H200), choice);
            // Pinned: recompute_attention true keeps none; beside an explicit activation_checkpointing, auto keeps none either.
            config.RecomputeAttention = true;
            Assert.Equal(0, TrainingSetup.Recompute(config, config.Model, H200, 1, null).AttentionKeptLayers);
            config.RecomputeAttention = LayerCount.Auto;
            config.ActivationCheckpointing = true;
            Assert.Equal(new RecomputeChoice(22, 22), TrainingSetup.Recompute(config, config.Model, H200, 1, null));
            config.RecomputeAttention = LayerCount.Of(5);
            Assert.Equal(new RecomputeChoice(22, 5), TrainingSetup.Recompute(config, config.Model, H200, 1, null));
            // On the CPU (no device memory to plan in) everything recomputes.
            config.RecomputeAttention = LayerCount.Auto;
            config.ActivationCheckpointing = LayerCount.Auto;
            Assert.Equal(new RecomputeChoice(22, 22), TrainingSetup.Recompute(config, config.Model, null, 1, null));
        }
    }
}
