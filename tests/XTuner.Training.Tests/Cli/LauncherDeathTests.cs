using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using XTuner.Core.Launch;
using XTuner.Core.Runs;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Cli
{
    /// <summary>Ranks whose launcher dies (kill -9, a closed terminal) stop by themselves instead of training on unseen.</summary>
    [Collection(DistributedCollection.Name)]
    public class LauncherDeathTests
    {
        [Fact]
        public void RanksExitWhenTheirLauncherIsKilled()
        {
            var workDir = Path.Combine(Path.GetTempPath(), "xtuner-orphans-" + Guid.NewGuid().ToString("N").Substring(0, 10));
            var info = new ProcessStartInfo(WorkerLocator.DotnetHost()) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { RankProcesses.Cli, "train", "tiny-llama-sp2", "--work-dir", workDir, "--max-steps", "100000" }) info.ArgumentList.Add(a);
            using var launcher = Process.Start(info)!;
            launcher.BeginOutputReadLine();
            launcher.BeginErrorReadLine();
            try
            {
                // Wait until both ranks are training (run.json lists them and rank 0 has written metrics).
                XTunerRun? run = null;
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (DateTime.UtcNow < deadline && (run == null || run.Ranks.Count < 2 || run.LastStep == null))
                {
                    Thread.Sleep(200);
                    run = XTunerRun.Load(workDir);
                }
                Assert.True(run?.LastStep != null, "the ranks did not start training within 60 s");
                var pids = run!.Ranks.Select(r => r.ProcessId).ToList();
                Assert.All(pids, pid => Assert.True(ProcessSignals.IsAlive(pid)));

                launcher.Kill();
                launcher.WaitForExit();

                var gone = DateTime.UtcNow.AddSeconds(10);
                while (DateTime.UtcNow < gone && pids.Any(ProcessSignals.IsAlive)) Thread.Sleep(100);
                Assert.All(pids, pid => Assert.False(ProcessSignals.IsAlive(pid), $"rank pid {pid} outlived its launcher"));
            }
            finally
            {
                if (!launcher.HasExited) launcher.Kill(entireProcessTree: true);
                foreach (var r in XTunerRun.Load(workDir)?.Ranks ?? new System.Collections.Generic.List<RankRecord>())
                    if (ProcessSignals.IsAlive(r.ProcessId)) Process.GetProcessById(r.ProcessId).Kill();
            }
        }
    }
}
