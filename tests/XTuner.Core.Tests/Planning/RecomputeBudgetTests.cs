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
            return config;
        }

        [Fact]
        public void EveryLayerSkipsRecomputeWhereTheMemoryHoldsThemAll()
        {
            // The 1.1B shape trained at 8k without recompute in 36.7 GiB of an H200 (shared/measurements, 2026-12-02).
            Assert.Equal(22, RecomputeBudget.LayersWithoutRecompute(TinyLlama11B(8192), 1, 141 * PlanAssumptions.Gib));
        }

        [Fact]
        public void SomeLayersSkipRecomputeWhereOnlySomeFit()
        {
            int layers = RecomputeBudget.LayersWithoutRecompute(TinyLlama11B(65536), 1, 141 * PlanAssumptions.Gib);
            Assert.InRange(layers, 1, 21);
            // More memory, more layers; more ranks to split the sequence over, more layers.
            Assert.True(RecomputeBudget.LayersWithoutRecompute(TinyLlama11B(65536), 1, 80 * PlanAssumptions.Gib) < layers);
            var split = TinyLlama11B(65536);
            split.SequenceParallelSize = 4;
            split.GpusPerNode = 4;
            Assert.True(RecomputeBudget.LayersWithoutRecompute(split, 4, 141 * PlanAssumptions.Gib) > layers);
        }

        [Fact]
        public void WithTheFusedKernelsALayerKeepsLessAndMoreLayersSkipRecompute()
        {
            var a = PlanAssumptions.Default;
            Assert.True(RecomputeBudget.SavedBytesPerLayer(TinyLlama11B(65536, fused: true), a) < 0.8 * RecomputeBudget.SavedBytesPerLayer(TinyLlama11B(65536), a));
            Assert.True(RecomputeBudget.LayersWithoutRecompute(TinyLlama11B(131072, fused: true), 1, 141 * PlanAssumptions.Gib) >
                        RecomputeBudget.LayersWithoutRecompute(TinyLlama11B(131072), 1, 141 * PlanAssumptions.Gib));
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
            Assert.Equal(0, RecomputeBudget.LayersWithoutRecompute(config, 1, 141 * PlanAssumptions.Gib));
        }
    }
}
