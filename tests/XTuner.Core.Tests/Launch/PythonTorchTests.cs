using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using XTuner.Core.Launch;
using Xunit;

namespace XTuner.Core.Tests.Launch
{
    /// <summary>Asking python3 for a CUDA libtorch, with shell scripts standing in for python3 on the search path.</summary>
    public class PythonTorchTests : IDisposable
    {
        private readonly string _dir = TempDir.Create();
        private readonly string _bin;
        private readonly string _lib;

        public PythonTorchTests()
        {
            _bin = Path.Combine(_dir, "bin");
            _lib = Directory.CreateDirectory(Path.Combine(_dir, "site-packages", "torch", "lib")).FullName;
            File.WriteAllText(Path.Combine(_lib, PythonTorch.CudaLibrary), "");
        }

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        private string? Find(string python3Script, double timeoutSeconds = 20)
        {
            FakeProgram.Write(_bin, "python3", python3Script);
            return PythonTorch.FindCudaLibTorch(_bin, TimeSpan.FromSeconds(timeoutSeconds));
        }

        [Fact]
        public void ACudaTorchsLibFolderIsTheAnswer()
        {
            Assert.Equal(_lib, Find($"[ \"$1\" = -c ] && [ \"$2\" = \"{PythonTorch.Program}\" ] || exit 9; echo 'a warning on stdout'; echo '{_lib}'"));
        }

        [Fact]
        public void APython3ThatHangsIsKilledAtTheTimeout()
        {
            var pidFile = Path.Combine(_dir, "pid");
            var watch = Stopwatch.StartNew();
            Assert.Null(Find($"echo $$ > '{pidFile}'; echo '{_lib}'; exec sleep 60", timeoutSeconds: 1));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
            var pid = int.Parse(File.ReadAllText(pidFile).Trim());
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (ProcessSignals.IsAlive(pid) && DateTime.UtcNow < deadline) Thread.Sleep(50);
            Assert.False(ProcessSignals.IsAlive(pid), "python3 was left running");
        }

        [Fact]
        public void AnImportThatFillsStandardErrorDoesNotBlockTheAnswer()
        {
            Assert.Equal(_lib, Find($"head -c 1048576 /dev/zero | tr '\\0' w >&2; echo '{_lib}'"));
        }

        [Theory]
        [InlineData("echo")]                                   // a CPU torch
        [InlineData("echo 'Traceback: No module named torch' >&2; exit 1")]
        [InlineData("echo not-a-path")]
        [InlineData("echo /nonexistent/torch/lib")]
        [InlineData("echo 'TORCH'")]                           // a folder without libtorch_cuda.so
        [InlineData("echo 'LIB'; exit 1")]                     // an answer, but python3 failed
        public void AnythingButACudaLibFolderIsNoAnswer(string script)
        {
            Assert.Null(Find(script.Replace("LIB", _lib).Replace("TORCH", Path.GetDirectoryName(_lib))));
        }

        [Fact]
        public void NoPython3IsNoAnswer()
        {
            Assert.Null(PythonTorch.FindCudaLibTorch(Path.Combine(_dir, "empty"), TimeSpan.FromSeconds(5)));
        }
    }
}
