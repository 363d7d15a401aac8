using System.IO;
using System.Linq;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using Xunit;

namespace XTuner.Core.Tests.Launch
{
    /// <summary>The GPUs a machine shows (device files and CUDA_VISIBLE_DEVICES), and the refusal of a CUDA plan that needs more.</summary>
    public sealed class CudaDevicesTests : System.IDisposable
    {
        private readonly string _dir = TempDir.Create();

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        private string Devices(params string[] names)
        {
            var dev = Directory.CreateDirectory(Path.Combine(_dir, "dev")).FullName;
            foreach (var n in names) File.WriteAllText(Path.Combine(dev, n), "");
            return dev;
        }

        [Theory]
        [InlineData(null, 2)]
        [InlineData("0", 1)]
        [InlineData("1,0,3", 2)]
        [InlineData("", 0)]
        [InlineData("-1", 0)]
        [InlineData("0,-1,1", 1)]
        public void CountsTheDeviceFilesThatCudaVisibleDevicesLeaves(string? visible, int expected)
        {
            var dev = Devices("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "null");
            Assert.Equal(expected, CudaDevices.Visible(dev, visible));
        }

        [Fact]
        public void NoDeviceFolderIsNoGpu() => Assert.Equal(0, CudaDevices.Visible(Path.Combine(_dir, "none"), null));

        [Fact]
        public void RefusesACudaPlanWithMoreRanksThanGpusAndLeavesCpuPlansAlone()
        {
            var cuda = LaunchPlanner.PlanLocal(ConfigCatalogue.Get("tiny-llama-sp2"), LaunchPlannerTests.Options(_dir, DeviceKind.Cuda, 2));
            var none = Assert.Throws<XTunerException>(() => CudaDevices.RequireFor(cuda, 0));
            Assert.Equal(ErrorIds.CudaUnavailable, none.ErrorId);
            Assert.Contains("shows no NVIDIA GPU", none.Message);
            var few = Assert.Throws<XTunerException>(() => CudaDevices.RequireFor(cuda, 1));
            Assert.Contains("starts 2 CUDA ranks on this machine but it shows 1 GPU(s)", few.Message);
            Assert.Contains("-GpusPerNode 1 (--nproc-per-node 1)", few.Message);
            Assert.Contains("set ranks_per_gpu: 2 to let 2 ranks share each GPU", few.Message);
            CudaDevices.RequireFor(cuda, 2);
            CudaDevices.RequireFor(LaunchPlanner.PlanLocal(ConfigCatalogue.Get("tiny-llama-sp2"), LaunchPlannerTests.Options(_dir, DeviceKind.Cpu, 2)), 0);
        }

        [Fact]
        public void RanksPerGpuLetsRanksShareAGpuAndPlacesThemInTurn()
        {
            var config = ConfigCatalogue.Get("tiny-llama-sp2");
            config.RanksPerGpu = 2;
            var options = LaunchPlannerTests.Options(_dir, DeviceKind.Cuda, 4);
            var plan = LaunchPlanner.PlanLocal(config, options);
            Assert.Equal(new[] { "cuda:0", "cuda:0", "cuda:1", "cuda:1" }, plan.Ranks.Select(r => r.Device));
            CudaDevices.RequireFor(plan, 2);
            var few = Assert.Throws<XTunerException>(() => CudaDevices.RequireFor(plan, 1));
            Assert.Contains("starts 4 CUDA ranks on this machine but it shows 1 GPU(s), and 2 ranks per GPU need 2: set ranks_per_gpu: 4", few.Message);
        }

        [Theory]
        [InlineData(0, 1, 4, 0)]
        [InlineData(3, 1, 4, 3)]
        [InlineData(3, 2, 4, 1)]
        [InlineData(3, 4, 4, 0)]
        [InlineData(2, 2, 1, 0)]
        public void ARankFindsItsSharedGpu(int localRank, int ranksPerGpu, int visible, int expected)
        {
            var env = new RankEnvironment(localRank, 4, localRank, 4, 0, "127.0.0.1", 1234, RankLauncher.Local);
            Assert.Equal(expected, env.CudaDeviceIndex(visible, ranksPerGpu));
        }
    }
}
