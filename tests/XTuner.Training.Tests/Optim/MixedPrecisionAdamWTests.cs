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
    }
}
