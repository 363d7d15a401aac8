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
        public void TheFirstLayerKeptWholeSparesTheRecomputesWorkingSetAndTheNextCostsItsSavedTensors()
        {
            // The top layer kept whole recomputes nothing in its backward and the recomputes below run once it is freed:
            // on the H200 the 7B at 32k with 2 layers kept whole peaked at 116.60 GiB, one layer's saved tensors (4.1 GiB)
            // under the working set added whole (examples/benchmarks/results/h200-2026-12-04-kept-output.jsonl).
            var config = ConfigCatalogue.Get("llama2-7b-full-32k-sp1");
            config.FusedKernels = XTuner.Core.Configuration.FusedKernelsMode.On;
            config.DatasetFormat = XTuner.Core.Configuration.DatasetFormat.Synthetic;
            config.ZeroStage = 0;
            config.GpusPerNode = 1;
            double Peak(int recomputed)
            {
                config.ActivationCheckpointing = XTuner.Core.Configuration.LayerCount.Of(recomputed);
                config.RecomputeAttention = XTuner.Core.Configuration.LayerCount.Of(0);
                return Planner.ForConfig(config, 141 * PlanAssumptions.Gib).PeakGpuMemoryGiB;
            }
            double saved = RecomputeBudget.SavedBytesPerLayer(config, PlanAssumptions.Default) / PlanAssumptions.Gib;
            Assert.InRange(Peak(31) - Peak(32), -0.25 * saved, 0.25 * saved);
            Assert.InRange(Peak(30) - Peak(31), 0.9 * saved, 1.1 * saved);
            Assert.InRange(Peak(30), 116.60 * 0.99, 116.60 * 1.01);
        }

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
            Assert.InRange(peak, 30 * PlanAssumptions.Gib, 37 * PlanAssumptions.Gib - PlanAssumptions.Default.BudgetMarginBytes);
            // A budget above the free memory changes nothing; one below full recompute's peak keeps every layer recomputed.
            config.GpuMemoryBudgetGib = 500;
            Assert.Equal(free, Kept(config, 1, 141 * PlanAssumptions.Gib));
            config.GpuMemoryBudgetGib = 20;
            Assert.Equal(0, Kept(config, 1, 141 * PlanAssumptions.Gib));
        }

        [Fact]
        public void KeptCudnnAttentionIsItsOutputAndLogSumExpAlone()
        {
            static XTuner.Core.Configuration.XTunerConfig WholeRows()
            {
                var config = TinyLlama11B(32768, fused: true);
                config.DatasetFormat = XTuner.Core.Configuration.DatasetFormat.Synthetic;
                config.SyntheticDocumentLength = 0;
                return config;
            }
            // One causal document per row, bf16, the fused kernels, one SP rank: the bf16 output and the float32 lse.
            Assert.True(RecomputeBudget.KeepsAttentionOutputOnly(WholeRows()));
            Assert.Equal(32768.0 * (2 * 64 * 32 + 4 * 32), RecomputeBudget.AttentionBytesPerLayer(WholeRows()));
            // Documents not isolated are one causal sequence too.
            var unisolated = TinyLlama11B(32768, fused: true);
            unisolated.UseVarlenAttn = false;
            Assert.True(RecomputeBudget.KeepsAttentionOutputOnly(unisolated));
            // Anything that makes attention other than one causal SDPA call keeps the graph.
            var edits = new System.Action<XTuner.Core.Configuration.XTunerConfig>[]
            {
                c => c.SyntheticDocumentLength = 4096,
                c => c.FusedKernels = XTuner.Core.Configuration.FusedKernelsMode.Off,
                c => c.DType = XTuner.Core.Configuration.TrainingDType.Float32,
                c => c.SequenceParallelSize = 2,
                c => c.Device = XTuner.Core.Configuration.DeviceKind.Cpu,
            };
            foreach (var edit in edits)
            {
                var config = WholeRows();
                edit(config);
                Assert.False(RecomputeBudget.KeepsAttentionOutputOnly(config));
            }
            var windowed = ConfigCatalogue.Get("qwen2-7b-full-128k-sp8");
            windowed.SequenceParallelSize = 1;
            windowed.FusedKernels = XTuner.Core.Configuration.FusedKernelsMode.On;
            windowed.DatasetFormat = XTuner.Core.Configuration.DatasetFormat.Synthetic;
            Assert.True(RecomputeBudget.KeepsAttentionOutputOnly(windowed));
            windowed.Model.UseSlidingWindow = true;
            windowed.Model.SlidingWindow = 4096;
            windowed.Model.MaxWindowLayers = 0;
            Assert.False(RecomputeBudget.KeepsAttentionOutputOnly(windowed));
        }

        [Fact]
        public void KeptAttentionIsItsInputsOutputAndLogSumExp()
        {
            // 1.1B shape at 32k, packed documents: 32 heads of 64, q + repeated k and v + output in bf16, a float32 lse per head.
            Assert.False(RecomputeBudget.KeepsAttentionOutputOnly(TinyLlama11B(32768, fused: true)));
            Assert.Equal(32768.0 * (2 * 64 * 4 * 32 + 4 * 32), RecomputeBudget.AttentionBytesPerLayer(TinyLlama11B(32768, fused: true)));
            var config = TinyLlama11B(32768, fused: true);
            config.ActivationCheckpointing = XTuner.Core.Configuration.LayerCount.All;
            var hardware = new PlanHardware(141 * PlanAssumptions.Gib, null, 8);
            var rerun = PlanModel.Estimate(config, PlanLayout.Of(config, 1), hardware, PlanAssumptions.Default);
            config.RecomputeAttention = XTuner.Core.Configuration.LayerCount.None;
            var kept = PlanModel.Estimate(config, PlanLayout.Of(config, 1), hardware, PlanAssumptions.Default);
            Assert.Equal(22, rerun.AttentionRecomputedLayers);
            Assert.Equal(0, kept.AttentionRecomputedLayers);
            Assert.Equal(22 * RecomputeBudget.AttentionBytesPerLayer(config), kept.Memory.PeakGpu - rerun.Memory.PeakGpu, 3);
            // The recompute's attention forward is what it saves: 2 of attention's 9 units of work.
            Assert.Equal(rerun.Time.Attention * 7 / 9, kept.Time.Attention, 6);
        }

        [Fact]
        public void WithinTransformersPeakAt32kKeptAttentionComesBeforeWholeLayers()
        {
            // Within transformers' 36.96 GiB with the weights kept whole, every recomputed layer keeps attention (the cheaper
            // memory per second saved) before another skips its recompute: the H200 run that planned 1.5 GiB inside the
            // budget kept attention in all 22 (34.85 GiB, examples/benchmarks/results/h200-2026-12-03-kept-attention.jsonl);
            // 0.25 GiB inside it leaves room for two whole layers more (the first costs little: its saved tensors stand
            // for the recompute the top layer's backward no longer holds).
            var config = TinyLlama11B(32768, fused: true);
            config.CastWeightsPerLayer = XTuner.Core.Configuration.WeightCastMode.Off;
            config.GpuMemoryBudgetGib = 36.96;
            var choice = RecomputeBudget.Choose(config, 1, 141 * PlanAssumptions.Gib);
            Assert.Equal(new RecomputeChoice(20, 0), choice);
            // With attention pinned to rerun, auto can only keep whole layers, fewer of them.
            config.RecomputeAttention = XTuner.Core.Configuration.LayerCount.All;
            var wholeLayers = RecomputeBudget.Choose(config, 1, 141 * PlanAssumptions.Gib);
            Assert.Equal(0, wholeLayers.AttentionKeptLayers);
            Assert.InRange(wholeLayers.Layers, 1, 21);
            // Where the memory holds everything, nothing recomputes at all.
            Assert.Equal(new RecomputeChoice(0, 0), RecomputeBudget.Choose(TinyLlama11B(32768, fused: true), 1, 141 * PlanAssumptions.Gib));
        }

        [Theory]
        [InlineData(8192, 19.94, 22, 6)]
        [InlineData(32768, 36.96, 19, 0)]
        public void WeightsCastPerLayerLeaveRoomForMoreAsMeasured(int length, double budget, int layers, int attentionLayers)
        {
            // The H200 runs within transformers' peaks with cast_weights_per_layer (2 bytes per parameter less): at 8k 16 of
            // the 22 recomputed layers kept attention (19.67 GiB), at 32k 2 layers were not recomputed and the other 20 kept
            // attention (34.57 GiB, 2.4 GiB inside the budget) (examples/benchmarks/results/h200-2026-12-04-cast-weights.jsonl),
            // which holds a third whole layer now that the first one's cost is counted as it was measured.
            var config = TinyLlama11B(length, fused: true);
            config.GpuMemoryBudgetGib = budget;
            Assert.True(config.CastsWeightsPerLayer(1));
            Assert.Equal(new RecomputeChoice(layers, attentionLayers), RecomputeBudget.Choose(config, 1, 141 * PlanAssumptions.Gib));
            // With the weights kept whole in bf16 fewer layers skip their recompute, or as many and fewer keep attention.
            config.CastWeightsPerLayer = XTuner.Core.Configuration.WeightCastMode.Off;
            var kept = RecomputeBudget.Choose(config, 1, 141 * PlanAssumptions.Gib);
            Assert.True(layers < kept.Layers || layers == kept.Layers && attentionLayers < kept.AttentionLayers, $"{kept} keeps as much as the cast run");
        }

        [Fact]
        public void UnderZero3EveryLayerRecomputesAndOnlyAttentionIsChosen()
        {
            var config = TinyLlama11B(32768, fused: true);
            config.ZeroStage = 3;
            config.GpusPerNode = 2;
            var choice = RecomputeBudget.Choose(config, 2, 141 * PlanAssumptions.Gib);
            Assert.Equal(22, choice.Layers);
            Assert.Equal(22, choice.AttentionKeptLayers);
            // An explicit activation_checkpointing with recompute_attention auto reruns attention everywhere.
            var fixedLayers = TinyLlama11B(32768, fused: true);
            fixedLayers.ActivationCheckpointing = XTuner.Core.Configuration.LayerCount.Of(10);
            Assert.Equal(new RecomputeChoice(10, 10), RecomputeBudget.Choose(fixedLayers, 1, 141 * PlanAssumptions.Gib));
        }
    }
}
