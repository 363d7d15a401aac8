using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Runs;
using Xunit;

namespace XTuner.Core.Tests.Runs
{
    public class TrainingFlopsTests
    {
        private static ModelSpec TinyLlama11B(ModelArchitecture architecture)
        {
            var spec = ConfigCatalogue.Get("llama2-7b-full-8k-sp1").Model;
            spec.Architecture = architecture;
            spec.HiddenSize = 2048;
            spec.IntermediateSize = 5632;
            spec.NumHiddenLayers = 22;
            spec.NumKeyValueHeads = 4;
            return spec;
        }

        [Fact]
        public void ACausalDecoderCounts6NPlus6LhSPerToken()
        {
            var spec = TinyLlama11B(ModelArchitecture.Llama);
            double n = spec.ParameterCount!.Value;
            Assert.Equal(6 * n + 6.0 * 22 * 2048 * 131072, TrainingFlops.PerToken(spec, 131072), 6);
        }

        [Fact]
        public void ASlidingWindowCountsOnlyTheKeysInsideIt()
        {
            var spec = TinyLlama11B(ModelArchitecture.Mistral);
            spec.SlidingWindow = 4096;
            double n = spec.ParameterCount!.Value;
            // 4096 - 4096^2 / (2 * 131072) = 4032 keys per query on average, against 65536 for causal attention.
            Assert.Equal(4032, TrainingFlops.AttendedKeys(131072, 4096), 9);
            Assert.Equal(6 * n + 12.0 * 2048 * 22 * 4032, TrainingFlops.PerToken(spec, 131072), 6);
            // A window as long as the sequence is causal attention; the count is continuous there.
            Assert.Equal(TrainingFlops.PerToken(TinyLlama11B(ModelArchitecture.Llama), 4096), TrainingFlops.PerToken(spec, 4096), 6);
            Assert.Equal(TrainingFlops.AttendedKeys(4096, null), TrainingFlops.AttendedKeys(4096, 4096), 9);
            // The H200 run of this shape (h200-2026-12-03-window.jsonl): 12,559 tokens/s is 11.2% of 989 TFLOP/s, not 53%.
            Assert.Equal(0.1115, TrainingFlops.Mfu(spec, 131072, 12559.38, 989e12), 4);
        }

        [Fact]
        public void Qwen2WindowsOnlyTheLayersFromMaxWindowLayersOn()
        {
            var spec = TinyLlama11B(ModelArchitecture.Qwen2);
            spec.SlidingWindow = 4096;
            spec.UseSlidingWindow = true;
            spec.MaxWindowLayers = 20;
            double n = spec.ParameterCount!.Value;
            Assert.Equal(6 * n + 12.0 * 2048 * (20 * 65536 + 2 * 4032), TrainingFlops.PerToken(spec, 131072), 6);
        }
    }
}
