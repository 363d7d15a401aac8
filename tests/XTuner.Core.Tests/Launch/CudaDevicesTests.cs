using System.IO;
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
            CudaDevices.RequireFor(cuda, 2);
            CudaDevices.RequireFor(LaunchPlanner.PlanLocal(ConfigCatalogue.Get("tiny-llama-sp2"), LaunchPlannerTests.Options(_dir, DeviceKind.Cpu, 2)), 0);
        }
    }
}
