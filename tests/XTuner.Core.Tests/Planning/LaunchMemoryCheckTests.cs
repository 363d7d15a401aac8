using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Core.Planning;
using XTuner.Core.Tests.Launch;
using Xunit;

namespace XTuner.Core.Tests.Planning
{
    /// <summary>The warning before a CUDA launch whose layout the planner predicts does not fit a GPU.</summary>
    [Collection(ProcessEnvironment.Name)]
    public class LaunchMemoryCheckTests : IDisposable
    {
        private static readonly double H200 = 141 * PlanAssumptions.Gib;
        private readonly string _dir = TempDir.Create();

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        private static XTunerConfig SevenB(int length, DeviceKind device = DeviceKind.Cuda)
        {
            var config = ConfigCatalogue.Get("llama2-7b-full-32k-sp1");
            config.ZeroStage = 0;
            config.GpusPerNode = 1;
            config.MaxLength = length;
            // As training would take it (the catalogue's 7B extends its positions to 32k): positions for the whole length.
            if (config.Model.MaxPositionEmbeddings < length) config.Model.MaxPositionEmbeddings = length;
            config.Device = device;
            return config;
        }

        [Fact]
        public void ALayoutThatFitsGetsNoWarning()
        {
            Assert.Null(LaunchMemoryCheck.Warning(SevenB(32768), H200));
        }

        [Fact]
        public void ALayoutThatDoesNotFitIsWarnedAboutWithTheIdAndWhatToDo()
        {
            var warning = LaunchMemoryCheck.Warning(SevenB(128 * 1024), H200);
            Assert.NotNull(warning);
            Assert.Equal(FindingSeverity.Warning, warning!.Severity);
            Assert.Equal(ErrorIds.PredictedOutOfMemory, warning.ErrorId);
            Assert.Contains("[XTunerPredictedOutOfMemory]", warning.Message);
            Assert.Contains("xtuner plan llama2-7b-full-32k-sp1 --gpus 1", warning.Message);
            // Offloading the checkpoints is predicted to fit.
            Assert.Contains("SP 1 x DP 1, ZeRO-0, offload_activations true, recompute is predicted to fit", warning.Message);
        }

        [Fact]
        public void ACpuRunIsNotLookedAt()
        {
            Assert.Null(LaunchMemoryCheck.Warning(SevenB(1024 * 1024, DeviceKind.Cpu), H200));
            Assert.Null(LaunchMemoryCheck.Warning(SevenB(1024 * 1024, DeviceKind.Cpu)));
        }

        [Fact]
        public void RanksThatShareAGpuShareItsMemory()
        {
            var shared = SevenB(8192);
            shared.GpusPerNode = 2;
            shared.RanksPerGpu = 2;
            shared.SequenceParallelSize = 2;
            Assert.Null(LaunchMemoryCheck.Warning(SevenB(8192), H200));
            Assert.NotNull(LaunchMemoryCheck.Warning(shared, H200));
        }

        [Fact]
        public void AConfigWithoutDimensionsIsNotLookedAt()
        {
            Assert.Null(LaunchMemoryCheck.Warning(new XTunerConfig { Name = "checkpoint", Device = DeviceKind.Cuda }, H200));
        }

        [Theory]
        [InlineData("80GiB", 80)]
        [InlineData(null, 141)]
        [InlineData("lots", 141)]
        public void TheGpuMemoryComesFromTheVariableOrIsAnH200(string? text, double gib)
        {
            Assert.Equal(gib, LaunchMemoryCheck.GpuMemoryBytes(text) / PlanAssumptions.Gib);
        }

        [Fact]
        public void TheLocalLauncherWarnsOnCudaAndNotOnTheCpu()
        {
            var options = new[] { "random_init=true", "zero_stage=0", "max_length=131072", "model.rope_scaling.factor=32" };
            using var env = ProcessEnvironment.Set(new Dictionary<string, string?> { [LaunchMemoryCheck.GpuMemoryVariable] = null });
            var cuda = LaunchPlannerTests.Options(_dir, DeviceKind.Cuda, 1);
            cuda.ConfigOptions.AddRange(options);
            LaunchPlanner.PlanLocal(ConfigCatalogue.Get("llama2-7b-full-32k-sp1"), cuda, out var warnings);
            Assert.Contains(warnings, w => w.ErrorId == ErrorIds.PredictedOutOfMemory);
            var cpu = LaunchPlannerTests.Options(_dir, DeviceKind.Cpu, 1);
            cpu.ConfigOptions.AddRange(options);
            LaunchPlanner.PlanLocal(ConfigCatalogue.Get("llama2-7b-full-32k-sp1"), cpu, out var cpuWarnings);
            Assert.DoesNotContain(cpuWarnings, w => w.ErrorId == ErrorIds.PredictedOutOfMemory);
        }
    }
}
