using System;
using System.Linq;
using TorchSharp;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Training.Distributed;
using XTuner.Training.Models;
using XTuner.Training.Optim;
using XTuner.Training.Tests.Models;
using XTuner.Training.Zero;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Zero
{
    public class CastParametersTests
    {
        [Fact]
        public void ALayersCastIsTheMasterInBf16LeftInNoCallersScopeAndReleasedAfterItsHooks()
        {
            using var runtime = DistributedRuntime.Initialize(RankEnvironment.Single, DeviceType.CPU, TimeSpan.FromSeconds(30));
            using var model = new DecoderModel(TinySpecs.For(ModelArchitecture.Llama), CPU, ScalarType.BFloat16);
            var built = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.clone());
            var zero = Assert.IsType<CastParameters>(ZeroStrategies.Create(0, model, runtime.World, accumulationSteps: 1, castWeights: true));
            // Bound as the master is read, before the moments are made: the parameters and the moments never coexist.
            var states = new DeviceOptimizerStates(zero, new OptimizerSettings(), CPU, zero.Bind);
            Assert.False(states.WritesComputeCopy);
            // Bound, no parameter holds memory until it is used.
            Assert.All(model.parameters(), p => Assert.Equal(0, p.numel()));
            int layer0 = ParameterUnit.LayerUnits(zero.Units)[0];
            using (var scope = NewDisposeScope())
            {
                zero.BeforeForward(0);
                // Nothing of the cast is left to the caller's scope (which would keep it alive until that scope ends).
                Assert.Equal(0, scope.DisposablesCount);
                zero.AfterForward(0);
                Assert.Equal(0, scope.DisposablesCount);
            }
            zero.BeforeForward(0);
            // The cast is the master in bf16: the values the model was built with, to the bit.
            foreach (var slot in zero.Units[layer0].Slots)
                Assert.True(slot.Parameter!.eq(built[slot.Name]).all().item<bool>(), slot.Name);
            zero.AfterForward(0);
            Assert.All(zero.Units[layer0].Slots, slot => Assert.Equal(0, slot.Parameter!.numel()));
            // The embeddings, final norm and head are cast for the micro-batch and kept to the optimizer step.
            zero.BeginMicroBatch();
            Assert.All(zero.Units.Where(u => !u.IsLayer).SelectMany(u => u.Slots), slot => Assert.Equal(built[slot.Name].numel(), slot.Parameter!.numel()));
            zero.ReleaseParameters();
            Assert.All(model.parameters(), p => Assert.Equal(0, p.numel()));
            zero.Dispose();
            states.Dispose();
            foreach (var t in built.Values) t.Dispose();
        }

        [Fact]
        public void ReadingTheParametersLeavesNoViewOfThemBehind()
        {
            // A view left behind keeps the parameters' storage after they are released (until a garbage collection).
            using var model = new DecoderModel(TinySpecs.For(ModelArchitecture.Llama), CPU, ScalarType.BFloat16);
            using var runtime = DistributedRuntime.Initialize(RankEnvironment.Single, DeviceType.CPU, TimeSpan.FromSeconds(30));
            var zero = ZeroStrategies.Create(0, model, runtime.World, accumulationSteps: 1);
            using var destination = zeros(zero.Units[0].ShardLength, ScalarType.Float32);
            using var scope = NewDisposeScope();
            zero.ReadShard(0, destination);
            Assert.Equal(0, scope.DisposablesCount);
        }
    }
}
