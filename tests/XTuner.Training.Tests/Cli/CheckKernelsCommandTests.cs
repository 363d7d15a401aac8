using System;
using System.Collections.Generic;
using System.IO;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Cli
{
    /// <summary><c>xtuner check-kernels</c> where the kernels cannot run: exit code 3 and a line that says why.</summary>
    [Collection(DistributedCollection.Name)]
    public class CheckKernelsCommandTests
    {
        private static RankResult Xtuner(Dictionary<string, string> env, params string[] args) =>
            RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = env }, TimeSpan.FromMinutes(1), args)[0];

        [Fact]
        public void OnTheCpuItSaysTheKernelsAreCudaKernels()
        {
            var json = Path.Combine(Path.GetTempPath(), "xtuner-kernels-" + Guid.NewGuid().ToString("N") + ".json");
            var result = Xtuner(new Dictionary<string, string>(), "check-kernels", "--device", "cpu", "--json", json);
            Assert.Equal(3, result.ExitCode);
            Assert.Contains("the fused kernels are unavailable here: they are CUDA kernels", result.Error);
            Assert.Contains("[XTunerFusedKernelsUnavailable]", result.Error);
            Assert.False(File.Exists(json));
        }

        [Fact]
        public void WithoutACudaLibTorchItSaysWhatToSet()
        {
            var empty = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "xtuner-no-libtorch-" + Guid.NewGuid().ToString("N"))).FullName;
            var result = Xtuner(new Dictionary<string, string> { ["XTUNER_LIBTORCH_DIR"] = empty }, "check-kernels", "--device", "cuda");
            Assert.Equal(3, result.ExitCode);
            Assert.Contains($"XTUNER_LIBTORCH_DIR={empty} holds no libtorch_cuda.so", result.Error);
            Assert.Contains("[XTunerFusedKernelsUnavailable]", result.Error);
        }

        [Fact]
        public void AnUnknownDeviceIsAUsageError()
        {
            var result = Xtuner(new Dictionary<string, string>(), "check-kernels", "--device", "tpu");
            Assert.Equal(2, result.ExitCode);
            Assert.Contains("--device takes cuda or cpu, not 'tpu'", result.Error);
        }
    }
}
