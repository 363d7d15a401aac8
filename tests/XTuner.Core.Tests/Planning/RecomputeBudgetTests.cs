using XTuner.Core.Catalogue;
using XTuner.Core.Planning;
using Xunit;

namespace XTuner.Core.Tests.Planning
{
    public class RecomputeBudgetTests
    {
        private static XTuner.Core.Configuration.XTunerConfig TinyLlama11B(int length, bool fused = false)
        {
            var config = ConfigCatalogue.Get("llama2-7b-full-8k-sp1");
            config.FusedKernels = fused ? XTuner.Core.Configuration.FusedKernelsMode.On : XTuner.Core.Configuration.FusedKernelsMode.Off;
            config.ZeroStage = 0;
            config.GpusPerNode = 1;
            config.MaxLength = length;
            config.Model.HiddenSize = 2048;
            config.Model.IntermediateSize = 5632;
            config.Model.NumHiddenLayers = 22;
            config.Model.NumKeyValueHeads = 4;
            config.ActivationCheckpointing = XTuner.Core.Configuration.LayerCount.Auto;
            return config;
        }

        private static int Kept(XTuner.Core.Configuration.XTunerConfig config, int worldSize, double free) =>
            config.Model.NumHiddenLayers!.Value - RecomputeBudget.Choose(config, worldSize, free).Layers;

        [Fact]
        public void EveryLayerSkipsRecomputeWhereTheMemoryHoldsThemAll()
        {
            // The 1.1B shape trained at 8k without recompute in 36.7 GiB of an H200 (shared/measurements, 2026-12-02).
            Assert.Equal(22, Kept(TinyLlama11B(8192), 1, 141 * PlanAssumptions.Gib));
        }

        [Fact]
        public void SomeLayersSkipRecomputeWhereOnlySomeFit()
        {
            int layers = Kept(TinyLlama11B(65536), 1, 141 * PlanAssumptions.Gib);
            Assert.InRange(layers, 1, 21);
            // More memory, more layers; more ranks to split the sequence over, more layers.
            Assert.True(Kept(TinyLlama11B(65536), 1, 80 * PlanAssumptions.Gib) < layers);
            var split = TinyLlama11B(65536);
            split.SequenceParallelSize = 4;
            split.GpusPerNode = 4;
            Assert.True(Kept(split, 4, 141 * PlanAssumptions.Gib) > layers);
        }

        [Fact]
        public void WithTheFusedKernelsALayerKeepsLessAndMoreLayersSkipRecompute()
        {
            var a = PlanAssumptions.Default;
            Assert.True(RecomputeBudget.SavedBytesPerLayer(TinyLlama11B(65536, fused: true), a) < 0.8 * RecomputeBudget.SavedBytesPerLayer(TinyLlama11B(65536), a));
            Assert.True(Kept(TinyLlama11B(131072, fused: true), 1, 141 * PlanAssumptions.Gib) >
                        Kept(TinyLlama11B(131072), 1, 141 * PlanAssumptions.Gib));
            // auto counts as fused on CUDA (the planner's view), never on the CPU.
            var auto = TinyLlama11B(65536);
            auto.FusedKernels = XTuner.Core.Configuration.FusedKernelsMode.Auto;
            Assert.Equal(RecomputeBudget.SavedBytesPerLayer(TinyLlama11B(65536, fused: true), a), RecomputeBudget.SavedBytesPerLayer(auto, a));
            auto.Device = XTuner.Core.Configuration.DeviceKind.Cpu;
            Assert.Equal(RecomputeBudget.SavedBytesPerLayer(TinyLlama11B(65536), a), RecomputeBudget.SavedBytesPerLayer(auto, a));
        }

        [Fact]
        public void NoLayerSkipsRecomputeWhereFullRecomputeDoesNotFit()
        {
            var config = ConfigCatalogue.Get("llama2-7b-full-32k-sp1");
            config.ZeroStage = 0;
            config.GpusPerNode = 1;
            config.MaxLength = 128 * 1024;
            config.ActivationCheckpointing = XTuner.Core.Configuration.LayerCount.Auto;
            Assert.Equal(0, Kept(config, 1, 141 * PlanAssumptions.Gib));
        }

        [Fact]
        public void AGpuMemoryBudgetKeepsOnlyTheLayersThatFitInsideIt()
        {
            var config = TinyLlama11B(32768, fused: true);
            int free = Kept(config, 1, 141 * PlanAssumptions.Gib);
            Assert.Equal(22, free);
            // transformers' peak for this shape at 32k on the H200 (37.0 GiB): only some layers fit beside full recompute.
            config.GpuMemoryBudgetGib = 37;
            var choice = RecomputeBudget.Choose(config, 1, 141 * PlanAssumptions.Gib);
            Assert.True(choice.Layers < 22 || choice.AttentionKeptLayers > 0, $"{choice}: nothing kept");
            var layout = PlanLayout.Of(config, 1);
            layout.ActivationCheckpointing = XTuner.Core.Configuration.LayerCount.Of(choice.Layers);
            var chosen = config.Clone();
            chosen.RecomputeAttention = XTuner.Core.Configuration.LayerCount.Of(choice.AttentionLayers);
            var hardware = new PlanHardware(141 * PlanAssumptions.Gib, null, 8);
            double peak = PlanModel.Estimate(chosen, layout, hardware, PlanAssumptions.Default).Memory.PeakGpu;
            Assert.InRange(peak, 30 * PlanAssumptions.Gib, 37 * PlanAssumptions.Gib - PlanAssumptions.Default.HeadroomBytes);
            // A budget above the free memory changes nothing; one below full recompute's peak keeps every layer recomputed.
            config.GpuMemoryBudgetGib = 500;
            Assert.Equal(free, Kept(config, 1, 141 * PlanAssumptions.Gib));
            config.GpuMemoryBudgetGib = 20;
            Assert.Equal(0, Kept(config, 1, 141 * PlanAssumptions.Gib));
        }
    }
}
