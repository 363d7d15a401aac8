using System;
using System.IO;
using System.Linq;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Exactness
{
    /// <summary>bfloat16 compute with float32 master weights and float32 gradient accumulation follows float32 training.</summary>
    [Collection(DistributedCollection.Name)]
    public class PrecisionTests
    {
        [Theory]
        [InlineData(0)]
        [InlineData(2)]
        public void BFloat16WithAccumulationFollowsFloat32(int zeroStage)
        {
            // Both start from the same weights, exact in bf16 (exported by a bf16 run), so only compute precision differs.
            var start = TrainedRun.Train(new RunShape(Steps: 1, DType: "bfloat16"));
            var shape = new RunShape(World: 2, Accumulation: 2, ZeroStage: zeroStage, Steps: 4, Pretrained: Path.Combine(start.WorkDir, "hf"));
            var bf16 = TrainedRun.Train(shape with { DType = "bfloat16" });
            var fp32 = TrainedRun.Train(shape);
            Assert.Contains("cpu bfloat16", File.ReadAllText(Path.Combine(bf16.WorkDir, "logs", "rank0.log")));
            // bf16 keeps about 3 significant digits; rounding in the forward and backward must not compound across
            // micro-batches (accumulated in float32) or steps (float32 master weights).
            Assert.InRange(Math.Abs(bf16.Steps[0].GradNorm - fp32.Steps[0].GradNorm) / fp32.Steps[0].GradNorm, 0, 2e-2);
            for (int i = 0; i < shape.Steps; i++)
                Assert.InRange(Math.Abs(bf16.Steps[i].Loss - fp32.Steps[i].Loss) / fp32.Steps[i].Loss, 0, 1e-2);
        }

        [Theory]
        [InlineData("llama")]
        [InlineData("cohere")]
        [InlineData("internlm2")]
        public void CastingBFloat16WeightsPerLayerIsBitwiseTheKeptCopy(string architecture)
        {
            // A layer's bf16 weights cast from the float32 master as it runs (before its forward, again before its
            // recompute) are the very values the kept copy holds: the same bits, under SP, accumulation and partial
            // recompute; Cohere ties its head to the embeddings, InternLM2 fuses q, k and v into one weight.
            var shape = new RunShape(World: 2, SequenceParallel: 2, Accumulation: 2, RecomputedLayers: "1", DType: "bfloat16", Steps: 3, Architecture: architecture);
            var cast = TrainedRun.Train(shape with { CastWeights = "true" });
            var kept = TrainedRun.Train(shape with { CastWeights = "false" });
            Assert.Contains("cast from the float32 master", File.ReadAllText(Path.Combine(cast.WorkDir, "logs", "rank0.log")));
            Assert.Contains("kept whole in the compute dtype", File.ReadAllText(Path.Combine(kept.WorkDir, "logs", "rank0.log")));
            for (int step = 1; step <= shape.Steps; step++)
            {
                Assert.Equal(kept.Steps[step - 1].Loss, cast.Steps[step - 1].Loss);
                Assert.Equal(kept.Steps[step - 1].GradNorm, cast.Steps[step - 1].GradNorm);
                var expected = kept.Parameters(step);
                var actual = cast.Parameters(step);
                Assert.Equal(expected.Keys.OrderBy(k => k), actual.Keys.OrderBy(k => k));
                foreach (var (name, value) in expected)
                    Assert.True(actual[name].eq(value).all().item<bool>(), $"{name} differs at step {step}");
            }
            Assert.Equal(File.ReadAllBytes(Path.Combine(kept.WorkDir, "hf", "model.safetensors")),
                         File.ReadAllBytes(Path.Combine(cast.WorkDir, "hf", "model.safetensors")));
        }
    }
}
