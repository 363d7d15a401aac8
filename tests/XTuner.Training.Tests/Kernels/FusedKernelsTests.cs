using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using TorchSharp;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Training.Kernels;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Kernels
{
    /// <summary>What of the fused kernels can be checked without a GPU: the decision, the library search, bf16 rounding, and that every source compiles.</summary>
    public class FusedKernelsTests
    {
        [Fact]
        public void AutoAndFalseOnTheCpuTakeTheTorchSharpPathSilently()
        {
            Assert.Equal((false, (string?)null), FusedKernels.Decide(FusedKernelsMode.Auto, DeviceType.CPU));
            Assert.Equal((false, (string?)null), FusedKernels.Decide(FusedKernelsMode.Off, DeviceType.CPU));
            Assert.Equal((false, (string?)null), FusedKernels.Decide(FusedKernelsMode.Off, DeviceType.CUDA));
        }

        [Fact]
        public void TrueOnTheCpuIsRefusedWithWhatToChange()
        {
            var e = Assert.Throws<XTunerException>(() => FusedKernels.Decide(FusedKernelsMode.On, DeviceType.CPU));
            Assert.Equal(ErrorIds.FusedKernelsUnavailable, e.ErrorId);
            Assert.Contains("fused_kernels: auto or false", e.Message);
            Assert.False(FusedKernels.Enabled);
        }

        [Fact]
        public void NvrtcIsSoughtBesidePyTorchThenInTheToolkitsThenOnTheLibraryPath()
        {
            var candidates = Nvrtc.Candidates("/opt/torch/.venv/lib/python3.12/site-packages/torch/lib");
            var wheels = "/opt/torch/.venv/lib/python3.12/site-packages/nvidia";
            Assert.Equal(new[]
            {
                $"{wheels}/cu13/lib/libnvrtc.so.13", $"{wheels}/cu12/lib/libnvrtc.so.13", $"{wheels}/cuda_nvrtc/lib/libnvrtc.so.13",
                "/usr/local/cuda/lib64/libnvrtc.so.13", "/usr/local/cuda-13.0/lib64/libnvrtc.so.13",
                $"{wheels}/cu13/lib/libnvrtc.so.12", $"{wheels}/cu12/lib/libnvrtc.so.12", $"{wheels}/cuda_nvrtc/lib/libnvrtc.so.12",
                "/usr/local/cuda/lib64/libnvrtc.so.12", "/usr/local/cuda-13.0/lib64/libnvrtc.so.12",
                "libnvrtc.so.13", "libnvrtc.so.12",
            }, candidates);
            Assert.Equal(new[]
            {
                "/usr/local/cuda/lib64/libnvrtc.so.13", "/usr/local/cuda-13.0/lib64/libnvrtc.so.13",
                "/usr/local/cuda/lib64/libnvrtc.so.12", "/usr/local/cuda-13.0/lib64/libnvrtc.so.12",
                "libnvrtc.so.13", "libnvrtc.so.12",
            }, Nvrtc.Candidates(null));
        }

        [Fact]
        public void RmsNormWeightGradientSumsTheBlocksPartialRowsPerColumn()
        {
            using var partial = arange(12, ScalarType.Float32).reshape(3, 4);
            using var sum = RmsNormKernel.WeightGradient(partial, ScalarType.BFloat16);
            Assert.Equal(new long[] { 4 }, sum.shape);
            Assert.Equal(ScalarType.BFloat16, sum.dtype);
            Assert.Equal(new[] { 12f, 15f, 18f, 21f }, sum.to(ScalarType.Float32).data<float>().ToArray());
        }

        [Fact]
        public void Bf16RoundingIsLibtorchsToNearestEvenWithNaNKept()
        {
            Assert.Equal(0x3f80, BFloat16Bits.FromFloat(1f));
            Assert.Equal(0x7fc0, BFloat16Bits.FromFloat(float.NaN));
            Assert.Equal(0x7fc0, BFloat16Bits.FromFloat(BitConverter.Int32BitsToSingle(unchecked((int)0xffc00001u))));
            Assert.Equal(0x7f80, BFloat16Bits.FromFloat(float.PositiveInfinity));
            Assert.Equal(0xff80, BFloat16Bits.FromFloat(float.NegativeInfinity));
            // Ties go to the even neighbour: 0x3f808000 is halfway between 0x3f80 and 0x3f81, 0x3f818000 between 0x3f81 and 0x3f82.
            Assert.Equal(0x3f80, BFloat16Bits.FromFloat(BitConverter.Int32BitsToSingle(0x3f808000)));
            Assert.Equal(0x3f82, BFloat16Bits.FromFloat(BitConverter.Int32BitsToSingle(0x3f818000)));
            Assert.Equal(0x3f81, BFloat16Bits.FromFloat(BitConverter.Int32BitsToSingle(0x3f808001)));
            // The largest finite float rounds up to infinity, as libtorch's cast does.
            Assert.Equal(0x7f80, BFloat16Bits.FromFloat(float.MaxValue));

            using var scope = NewDisposeScope();
            var random = new Random(3);
            var floats = Enumerable.Range(0, 1 << 16).Select(_ => BitConverter.Int32BitsToSingle(random.Next(int.MinValue, int.MaxValue)))
                .Where(f => !float.IsNaN(f)).ToArray();
            // bf16 to float32 is exact, so the float's upper half is libtorch's bf16.
            var cast = tensor(floats).to(ScalarType.BFloat16).to(ScalarType.Float32).data<float>().ToArray();
            for (int i = 0; i < floats.Length; i++)
            {
                Assert.Equal(BitConverter.SingleToInt32Bits(cast[i]) >>> 16, BFloat16Bits.FromFloat(floats[i]));
                Assert.Equal(cast[i], BFloat16Bits.ToFloat(BFloat16Bits.FromFloat(floats[i])));
            }
        }

        /// <summary>
        /// Every kernel source compiles to a CUBIN for Hopper and Ampere with whichever libnvrtc this machine has (the
        /// search the kernels use, then Debian's libnvrtc11.2 package); a machine with none has nothing to compile with.
        /// </summary>
        [Fact]
        public void EveryKernelCompilesWhereNvrtcIsInstalled()
        {
            var library = Nvrtc.Candidates(null).Append("/usr/lib/x86_64-linux-gnu/libnvrtc.so.11.2")
                .Where(c => !c.Contains('/') || File.Exists(c))
                .Select(c => NativeLibrary.TryLoad(c, out var handle) ? handle : IntPtr.Zero)
                .FirstOrDefault(h => h != IntPtr.Zero);
            // CI installs it (.ci/kernel-tools-setup.sh): there, a missing compiler fails rather than passes unchecked.
            if (library == IntPtr.Zero)
            {
                Assert.False(Environment.GetEnvironmentVariable("CI") == "true", "CI runs .ci/kernel-tools-setup.sh: libnvrtc should be installed.");
                return;
            }
            foreach (var (name, source) in new[] { (AdamWKernel.Name, AdamWKernel.Source), (SumOfSquaresKernel.Name, SumOfSquaresKernel.Source), (RmsNormKernel.KernelName, RmsNormKernel.Source), (SwiGluKernel.KernelName, SwiGluKernel.Source), (RotaryKernel.KernelName, RotaryKernel.Source), (CrossEntropyKernel.KernelName, CrossEntropyKernel.Source) })
                foreach (var (major, minor) in new[] { (9, 0), (8, 0) })
                {
                    var image = Nvrtc.Compile(library, source, name, major, minor);
                    // An ELF CUBIN.
                    Assert.True(image.Length > 1000 && image[0] == 0x7f && image[1] == (byte)'E', $"{name} for sm_{major}{minor}");
                }
            var error = Assert.Throws<InvalidOperationException>(() => Nvrtc.Compile(library, "__global__ void broken() { undefined_thing(); }", "broken", 9, 0));
            Assert.Contains("undefined_thing", error.Message);
        }
    }
}
