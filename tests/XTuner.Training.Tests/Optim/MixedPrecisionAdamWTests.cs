using System;
using System.Linq;
using TorchSharp;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Training.Distributed;
using XTuner.Training.Optim;
using XTuner.Training.Zero;
using XTuner.Training.Models;
using XTuner.Training.Tests.Models;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Optim
{
    public class MixedPrecisionAdamWTests
    {
        private static void SetGradients(DecoderModel model, float value)
        {
            foreach (var p in model.parameters()) p.grad = full_like(p, value);
        }

        [Theory]
        [InlineData(0)]
        [InlineData(2)]
        public void BFloat16GradientsAccumulateAcrossMicroBatchesInFloat32(int zeroStage)
        {
            using var runtime = DistributedRuntime.Initialize(RankEnvironment.Single, DeviceType.CPU, TimeSpan.FromSeconds(30));
            using var model = new DecoderModel(TinySpecs.For(ModelArchitecture.Llama), CPU, ScalarType.BFloat16);
            var zero = ZeroStrategies.Create(zeroStage, model, runtime.World, accumulationSteps: 2);
            var settings = new OptimizerSettings();
            using var optimizer = new MixedPrecisionAdamW(zero, new DeviceOptimizerStates(zero, settings, CPU), runtime.World, settings);
            long elements = model.parameters().Sum(p => p.numel());

            SetGradients(model, 1f);
            optimizer.Zero.AccumulateMicroBatch();
            // 2^-9 vanishes when added to 1 in bfloat16 (8 significant bits) but not in float32.
            SetGradients(model, 1f / 512);
            double norm = optimizer.StepAll(1e-3);

            // bfloat16 accumulation would give sqrt(elements) exactly, 2e-3 below; the norm itself sums in float32 (~1e-6).
            Assert.Equal(Math.Sqrt(elements) * (1 + 1.0 / 512), norm, Math.Sqrt(elements) * 1e-5);
            Assert.All(model.parameters(), p => Assert.Equal(0f, p.grad!.abs().max().to(ScalarType.Float32).item<float>()));
        }

        [Fact]
        public void BackwardWritesIntoOneGradientBufferPerUnitThatTheStepReadsInPlace()
        {
            using var runtime = DistributedRuntime.Initialize(RankEnvironment.Single, DeviceType.CPU, TimeSpan.FromSeconds(30));
            using var model = new DecoderModel(TinySpecs.For(ModelArchitecture.Llama), CPU, ScalarType.BFloat16);
            var zero = ZeroStrategies.Create(0, model, runtime.World, accumulationSteps: 1);
            var settings = new OptimizerSettings();
            using var optimizer = new MixedPrecisionAdamW(zero, new DeviceOptimizerStates(zero, settings, CPU), runtime.World, settings);
            var ids = arange(16, ScalarType.Int64).remainder(TinySpecs.For(ModelArchitecture.Llama).VocabSize!.Value).unsqueeze(0);
            for (int step = 0; step < 2; step++)
            {
                model.Logits(model.Forward(ids, arange(16, ScalarType.Int64).unsqueeze(0))).to(ScalarType.Float32).square().mean().backward();
                // Every .grad is still the view autograd added into: each unit's gradients lie back to back in one buffer.
                foreach (var unit in zero.Units)
                {
                    var first = TensorMemory.Pointer(unit.Slots[0].Parameter!.grad!);
                    Assert.All(unit.Slots, slot => Assert.Equal(first + (slot.Offset - unit.Slots[0].Offset) * 2, TensorMemory.Pointer(slot.Parameter!.grad!)));
                }
                // What the norm and the update read is that buffer itself, not a copy of it.
                var firstUnit = zero.Units[0];
                var buffer = TensorMemory.Pointer(firstUnit.Slots[0].Parameter!.grad!) - firstUnit.Slots[0].Offset * 2;
                Assert.Equal(buffer, TensorMemory.Pointer(zero.ReduceGradient(0)));
                Assert.Equal(buffer, TensorMemory.Pointer(zero.GradientShard(0)));
                var expectedNorm = Math.Sqrt(model.parameters().Sum(p => p.grad!.to(ScalarType.Float64).square().sum().item<double>()));
                double norm = optimizer.StepAll(1e-3);
                Assert.Equal(expectedNorm, norm, expectedNorm * 1e-5);
                Assert.All(model.parameters(), p => Assert.Equal(0f, p.grad!.abs().max().to(ScalarType.Float32).item<float>()));
            }
        }
    }
}
