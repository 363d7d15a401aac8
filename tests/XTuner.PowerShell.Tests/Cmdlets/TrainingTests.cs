using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using XTuner.PowerShell.Tests.Hosting;
using Xunit;

namespace XTuner.PowerShell.Tests.Cmdlets
{
    /// <summary>
    /// Runs of rank processes share the environment (XTUNER_WORKER, XTUNER_FAKE_MODE) and the machine's two cores: the
    /// classes in this collection run alone, after the others.
    /// </summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class RankProcessesCollection
    {
        public const string Name = "rank processes";
    }

    /// <summary>
    /// Start-XTunerTraining driven through the engine's own API, for what a script cannot see: the progress records,
    /// the stream the plan is written to, and Ctrl+C (PowerShell.Stop, which calls StopProcessing). The ranks are
    /// tests/fake-worker/xtuner.
    /// </summary>
    [Collection(RankProcessesCollection.Name)]
    public sealed class TrainingTests : IDisposable
    {
        private readonly Runspace _runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        private readonly string _folder = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "xtuner-ps-" + Guid.NewGuid().ToString("N"))).FullName;
        private readonly string? _savedWorker = Environment.GetEnvironmentVariable("XTUNER_WORKER");

        public TrainingTests()
        {
            Environment.SetEnvironmentVariable("XTUNER_WORKER", Path.Combine(Repository.TestsDirectory, "fake-worker", "xtuner"));
            _runspace.Open();
            using var import = Shell("Import-Module $args[0] -ErrorAction Stop", Repository.Manifest);
            import.Invoke();
        }

        private System.Management.Automation.PowerShell Shell(string script, params object[] arguments)
        {
            var ps = System.Management.Automation.PowerShell.Create();
            ps.Runspace = _runspace;
            ps.AddScript(script);
            foreach (var a in arguments) ps.AddArgument(a);
            return ps;
        }

        private string WorkDir(string name) => Path.Combine(_folder, name);

        [Fact]
        public void Progress_shows_step_of_total_loss_throughput_and_time_left_then_completes()
        {
            using var ps = Shell("Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -MaxSteps 5 -WorkDir $args[0]", WorkDir("progress"));
            ps.Invoke();
            Assert.False(ps.HadErrors, string.Join("\n", ps.Streams.Error));
            var records = ps.Streams.Progress.ToList();
            var steps = records.Where(r => r.RecordType == ProgressRecordType.Processing && r.StatusDescription.StartsWith("step ", StringComparison.Ordinal)).ToList();
            Assert.Equal(5, steps.Count);
            Assert.Equal("step 1/5 loss 3.0000 5,120 tok/s/GPU ETA 0:00", steps[0].StatusDescription);
            Assert.Equal(new[] { 20, 40, 60, 80, 100 }, steps.Select(r => r.PercentComplete));
            Assert.Equal("tiny-llama-sp2", steps[0].Activity);
            // The ETA is in the status; a SecondsRemaining would be shown a second time, as seconds, and crowd it out.
            Assert.All(steps, r => Assert.Equal(-1, r.SecondsRemaining));
            Assert.All(records, r => Assert.Equal(records[0].ActivityId, r.ActivityId));
            Assert.Equal(ProgressRecordType.Completed, records.Last().RecordType);
        }

        [Fact]
        public void WhatIf_puts_the_plan_in_the_information_stream_and_starts_nothing()
        {
            using var ps = Shell("Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -WorkDir $args[0] -WhatIf", WorkDir("whatif"));
            Assert.Empty(ps.Invoke());
            Assert.False(ps.HadErrors);
            var info = Assert.Single(ps.Streams.Information);
            Assert.Contains("LaunchPlan", info.Tags);
            Assert.Equal("XTuner.Core.Launch.LaunchPlan", info.MessageData.GetType().FullName);
            Assert.Contains("SP groups    {0,1}", info.ToString());
            Assert.False(Directory.Exists(WorkDir("whatif")));
        }

        [Fact]
        public void Verbose_shows_the_plan_before_the_ranks_start()
        {
            using var ps = Shell("Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -MaxSteps 1 -WorkDir $args[0] -Verbose", WorkDir("verbose"));
            ps.Invoke();
            var verbose = ps.Streams.Verbose.Select(v => v.Message).ToList();
            Assert.Contains(verbose, v => v.Contains("SP groups    {0,1}") && v.Contains("--launcher pytorch"));
            Assert.Contains("step 1/1", verbose);
        }

        [Fact]
        public void A_rank_failure_is_a_terminating_error_on_the_work_dir()
        {
            Environment.SetEnvironmentVariable("XTUNER_FAKE_MODE", "fail");
            // A cmdlet's terminating error ends its statement; the script goes on and the error is in the error stream.
            using var ps = Shell("Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -WorkDir $args[0]; 'next statement'", WorkDir("failed"));
            Assert.Equal("next statement", Assert.Single(ps.Invoke()).BaseObject);
            var e = Assert.Single(ps.Streams.Error);
            Assert.Equal("XTunerRankFailed,XTuner.PowerShell.Commands.StartXTunerTrainingCommand", e.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.InvalidResult, e.CategoryInfo.Category);
            Assert.Equal(WorkDir("failed"), e.TargetObject);
            Assert.StartsWith("Rank 1 exited with code 3; the other ranks were stopped. Last lines of " + Path.Combine(WorkDir("failed"), "logs", "rank1.log"), e.Exception.Message);
        }

        [Fact]
        public void Ctrl_C_stops_every_rank_and_records_the_run_as_stopped()
        {
            Environment.SetEnvironmentVariable("XTUNER_FAKE_MODE", "hang");
            var workDir = WorkDir("ctrl-c");
            using var ps = Shell("Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -WorkDir $args[0]", workDir);
            var invocation = ps.BeginInvoke();
            var pids = RunFile.WaitForRanks(workDir, 2);

            var started = DateTime.UtcNow;
            ps.Stop();

            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(15), "Stop took too long");
            Assert.Equal(PSInvocationState.Stopped, ps.InvocationStateInfo.State);
            Assert.Throws<PipelineStoppedException>(() => ps.EndInvoke(invocation));
            Assert.All(pids, pid => Assert.False(RunFile.IsAlive(pid), $"rank process {pid} is still alive"));
            Assert.Equal("Stopped", RunFile.State(workDir));
        }

        [Fact]
        public void Stop_XTunerTraining_from_another_runspace_ends_a_foreground_run_with_a_warning_not_an_error()
        {
            Environment.SetEnvironmentVariable("XTUNER_FAKE_MODE", "hang");
            var workDir = WorkDir("stopped-elsewhere");
            using var ps = Shell("Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -WorkDir $args[0] -PassThru", workDir);
            var invocation = ps.BeginInvoke();
            var pids = RunFile.WaitForRanks(workDir, 2);

            using (var other = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2()))
            {
                other.Open();
                using var stop = System.Management.Automation.PowerShell.Create();
                stop.Runspace = other;
                stop.AddScript("Import-Module $args[0]; Stop-XTunerTraining -WorkDir $args[1]").AddArgument(Repository.Manifest).AddArgument(workDir).Invoke();
                Assert.False(stop.HadErrors, string.Join("\n", stop.Streams.Error));
            }

            var run = Assert.Single(ps.EndInvoke(invocation));
            Assert.False(ps.HadErrors, string.Join("\n", ps.Streams.Error));
            Assert.Equal("Stopped", run.Properties["State"].Value.ToString());
            Assert.Contains(ps.Streams.Warning, w => w.Message.Contains("was stopped at step 0"));
            Assert.All(pids, pid => Assert.False(RunFile.IsAlive(pid), $"rank process {pid} is still alive"));
        }

        public void Dispose()
        {
            _runspace.Dispose();
            Environment.SetEnvironmentVariable("XTUNER_WORKER", _savedWorker);
            Environment.SetEnvironmentVariable("XTUNER_FAKE_MODE", null);
            Directory.Delete(_folder, recursive: true);
        }
    }
}
