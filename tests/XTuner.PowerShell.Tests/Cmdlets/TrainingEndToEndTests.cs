using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;
using XTuner.PowerShell.Tests.Hosting;
using Xunit;

namespace XTuner.PowerShell.Tests.Cmdlets
{
    /// <summary>Ctrl+C during real training (the module's worker, bin/xtuner): every xtuner process this session started ends.</summary>
    [Collection(RankProcessesCollection.Name)]
    public sealed class TrainingEndToEndTests : IDisposable
    {
        private readonly Runspace _runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        private readonly string _workDir = Path.Combine(Path.GetTempPath(), "xtuner-ps-" + Guid.NewGuid().ToString("N"), "run");
        private readonly string? _savedWorker = Environment.GetEnvironmentVariable("XTUNER_WORKER");

        public TrainingEndToEndTests()
        {
            Environment.SetEnvironmentVariable("XTUNER_WORKER", null);
            _runspace.Open();
            using var import = System.Management.Automation.PowerShell.Create();
            import.Runspace = _runspace;
            import.AddCommand("Import-Module").AddArgument(Repository.Manifest).AddParameter("ErrorAction", "Stop").Invoke();
        }

        [Fact]
        public void Ctrl_C_during_training_leaves_no_xtuner_process_behind()
        {
            using var ps = System.Management.Automation.PowerShell.Create();
            ps.Runspace = _runspace;
            ps.AddScript("Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -MaxSteps 100000 -WorkDir $args[0]").AddArgument(_workDir);
            var invocation = ps.BeginInvoke();
            var pids = RunFile.WaitForRanks(_workDir, 2, TimeSpan.FromSeconds(60));
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (ps.Streams.Progress.All(p => !p.StatusDescription.StartsWith("step ", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
                Thread.Sleep(100);
            Assert.Contains(ps.Streams.Progress, p => p.StatusDescription.StartsWith("step ", StringComparison.Ordinal));

            ps.Stop();

            Assert.Equal(PSInvocationState.Stopped, ps.InvocationStateInfo.State);
            Assert.Throws<PipelineStoppedException>(() => ps.EndInvoke(invocation));
            Assert.All(pids, pid => Assert.False(RunFile.IsAlive(pid), $"rank process {pid} is still alive"));
            Assert.Empty(ProcessesLaunchedHere());
            Assert.Equal("Stopped", RunFile.State(_workDir));
        }

        /// <summary>Live processes whose environment names this process as their launcher (every rank it started, and their children).</summary>
        private static int[] ProcessesLaunchedHere()
        {
            var marker = "XTUNER_LAUNCHER_PID=" + Environment.ProcessId;
            return Directory.GetDirectories("/proc")
                .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
                .Where(pid => pid > 0 && RunFile.IsAlive(pid) && EnvironmentOf(pid).Contains(marker))
                .ToArray();
        }

        private static string[] EnvironmentOf(int pid)
        {
            try
            {
                return File.ReadAllText($"/proc/{pid}/environ").Split('\0');
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                return Array.Empty<string>();
            }
        }

        public void Dispose()
        {
            _runspace.Dispose();
            Environment.SetEnvironmentVariable("XTUNER_WORKER", _savedWorker);
            Directory.Delete(Path.GetDirectoryName(_workDir)!, recursive: true);
        }
    }
}
