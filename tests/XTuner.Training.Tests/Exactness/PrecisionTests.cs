using System;
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
            var shape = new RunShape(World: 2, Accumulation: 2, ZeroStage: zeroStage, Steps: 4);
            var bf16 = TrainedRun.Train(shape with { DType = "bfloat16" });
            var fp32 = TrainedRun.Train(shape);
            for (int i = 0; i < shape.Steps; i++)
            {
                // bf16 keeps about 3 significant digits (measured: losses within 0.53%); its rounding must not compound.
                Assert.InRange(Math.Abs(bf16.Steps[i].Loss - fp32.Steps[i].Loss) / fp32.Steps[i].Loss, 0, 1e-2);
                Assert.InRange(Math.Abs(bf16.Steps[i].GradNorm - fp32.Steps[i].GradNorm) / fp32.Steps[i].GradNorm, 0, 5e-2);
            }
        }
    }
}
