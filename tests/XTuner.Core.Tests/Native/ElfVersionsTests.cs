using System;
using System.IO;
using System.Linq;
using XTuner.Core.Native;
using Xunit;

namespace XTuner.Core.Tests.Native
{
    public class ElfVersionsTests
    {
        /// <summary>A private copy of TorchSharp's native shim from the NuGet cache (restored for the solution).</summary>
        private static string CopyOfShim()
        {
            var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(PathUtil.HomeDirectory(), ".nuget", "packages");
            var source = Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
            Assert.True(File.Exists(source), $"TorchSharp's shim is not in the NuGet cache at {source}; restore the solution first.");
            var copy = Path.Combine(TempDir.Create(), "libLibTorchSharp.so");
            File.Copy(source, copy);
            return copy;
        }

        [Fact]
        public void ReadsTheVersionsTorchSharpsShimNeeds()
        {
            var elf = ElfVersions.Load(CopyOfShim());
            var marker = Assert.Single(elf.Needed, n => n.Version == LibTorchSharpCompat.MarkerVersion);
            Assert.Equal("libstdc++.so.6", marker.Library);
            Assert.False(marker.IsWeak);
            Assert.Contains(elf.Needed, n => n.Version == "GLIBC_2.2.5");
        }

        [Fact]
        public void MarkWeakChangesOnlyThatEntryAndReplacesTheFile()
        {
            var path = CopyOfShim();
            var linked = path + ".link";
            File.Copy(path, linked);
            var before = File.ReadAllBytes(path);
            Assert.True(ElfVersions.Load(path).MarkWeak(LibTorchSharpCompat.MarkerVersion));
            var after = File.ReadAllBytes(path);
            var changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToList();
            Assert.Single(changed);
            Assert.True(ElfVersions.Load(path).Needed.Single(n => n.Version == LibTorchSharpCompat.MarkerVersion).IsWeak);
            Assert.False(ElfVersions.Load(path).MarkWeak(LibTorchSharpCompat.MarkerVersion));
            Assert.Equal(before, File.ReadAllBytes(linked));
        }

        [Fact]
        public void HostLibStdCxxDefinesItsVersions()
        {
            var host = LibTorchSharpCompat.HostLibStdCxx();
            Assert.NotNull(host);
            Assert.Contains("GLIBCXX_3.4.21", ElfVersions.Load(host!).Defined);
        }

        [Fact]
        public void ApplyPatchesOnlyWhenTheHostLacksTheMarker()
        {
            var path = CopyOfShim();
            var host = LibTorchSharpCompat.HostLibStdCxx()!;
            bool hostHasIt = ElfVersions.Load(host).Defined.Contains(LibTorchSharpCompat.MarkerVersion);
            var message = LibTorchSharpCompat.Apply(path, always: false, host);
            Assert.Equal(!hostHasIt, ElfVersions.Load(path).Needed.Single(n => n.Version == LibTorchSharpCompat.MarkerVersion).IsWeak);
            Assert.Contains(path, message);
            LibTorchSharpCompat.Apply(path, always: true);
            Assert.True(ElfVersions.Load(path).Needed.Single(n => n.Version == LibTorchSharpCompat.MarkerVersion).IsWeak);
        }

        [Fact]
        public void NonElfFilesAreRefused()
        {
            var path = Path.Combine(TempDir.Create(), "x.so");
            File.WriteAllText(path, "not an elf file at all, but long enough to have a header of sixty-four bytes.");
            Assert.Throws<InvalidDataException>(() => ElfVersions.Load(path));
        }
    }
}
