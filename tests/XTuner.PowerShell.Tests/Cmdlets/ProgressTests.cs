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
    /// The progress bars of Start-XTunerTraining and Wait-XTunerJob read a step the same way, with the time left in
    /// whole hours past an hour. The ranks are a script that reports two steps of a long run.
    /// </summary>
    [Collection(RankProcessesCollection.Name)]
    public sealed class ProgressTests : IDisposable
    {
        // Step 1 leaves 3599.6 s (1:00:00 once rounded), step 2 leaves 90001 s (more than a day).
        private const string StepOne = "{\"step\":1,\"total_steps\":3,\"loss\":2,\"tokens_per_sec_per_gpu\":1234.4,\"elapsed_s\":1799.8}";
        private const string StepTwo = "{\"step\":2,\"total_steps\":3,\"loss\":1,\"tokens_per_sec_per_gpu\":1234.4,\"elapsed_s\":180002}";

        private readonly Runspace _runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        private readonly string _folder = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "xtuner-ps-" + Guid.NewGuid().ToString("N"))).FullName;
        private readonly string? _savedWorker = Environment.GetEnvironmentVariable("XTUNER_WORKER");

        public ProgressTests()
        {
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

        [Fact]
        public void Training_progress_shows_each_step_with_the_time_left_in_hours()
        {
            var worker = Path.Combine(_folder, "worker");
            File.WriteAllText(worker, "#!/bin/sh\nif [ \"$RANK\" = 0 ] && [ \"$XTUNER_EVENTS\" = 1 ]; then\n" +
                                      $"  echo '@xtuner-event {{\"kind\":\"step\",\"total_steps\":3,\"metrics\":{StepOne}}}'\n" +
                                      $"  echo '@xtuner-event {{\"kind\":\"step\",\"total_steps\":3,\"metrics\":{StepTwo}}}'\nfi\n");
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(worker, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Environment.SetEnvironmentVariable("XTUNER_WORKER", worker);
            using var ps = Shell("Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -MaxSteps 3 -WorkDir $args[0]", Path.Combine(_folder, "work"));
            ps.Invoke();
            Assert.False(ps.HadErrors, string.Join("\n", ps.Streams.Error));
            Assert.Equal(new[]
            {
                "step 1/3 loss 2.0000 1,234 tok/s/GPU ETA 1:00:00",
                "step 2/3 loss 1.0000 1,234 tok/s/GPU ETA 25:00:01",
            }, ps.Streams.Progress.Where(r => r.RecordType == ProgressRecordType.Processing && r.StatusDescription.StartsWith("step ", StringComparison.Ordinal))
                .Select(r => r.StatusDescription));
        }

        [Fact]
        public void Training_progress_shows_the_data_preparation_before_the_first_step()
        {
            const string data = "{\"phase\":\"Tokenizing\",\"samples\":1500,\"tokens\":2500000,\"bytes_read\":25000000,\"total_bytes\":100000000,\"elapsed_seconds\":10,\"threads\":2}";
            var worker = Path.Combine(_folder, "worker");
            File.WriteAllText(worker, "#!/bin/sh\nif [ \"$RANK\" = 0 ] && [ \"$XTUNER_EVENTS\" = 1 ]; then\n" +
                                      $"  echo '@xtuner-event {{\"kind\":\"data\",\"data\":{data}}}'\n" +
                                      $"  echo '@xtuner-event {{\"kind\":\"step\",\"total_steps\":3,\"metrics\":{StepOne}}}'\nfi\n");
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(worker, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Environment.SetEnvironmentVariable("XTUNER_WORKER", worker);
            using var ps = Shell("Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -MaxSteps 3 -WorkDir $args[0]", Path.Combine(_folder, "work"));
            ps.Invoke();
            Assert.False(ps.HadErrors, string.Join("\n", ps.Streams.Error));
            var preparing = ps.Streams.Progress.Single(r => r.StatusDescription.StartsWith("preparing data", StringComparison.Ordinal));
            Assert.Equal("preparing data: 25%, 1,500 samples, 2.50M tokens, 2.5 MB/s, ETA 0:30", preparing.StatusDescription);
            Assert.Equal((25, 30), (preparing.PercentComplete, preparing.SecondsRemaining));
            Assert.Contains(ps.Streams.Progress, r => r.StatusDescription.StartsWith("step 1/3", StringComparison.Ordinal));
        }

        [Fact]
        public void Job_progress_shows_the_state_nodes_and_the_step_as_training_progress_does()
        {
            var work = Directory.CreateDirectory(Path.Combine(_folder, "job")).FullName;
            File.WriteAllText(Path.Combine(work, "slurm-job.json"), $"{{\"job_id\":\"42\",\"name\":\"n\",\"state\":\"Completed\",\"state_text\":\"COMPLETED\",\"work_dir\":\"{work}\",\"nodes\":\"node1\"}}");
            File.WriteAllText(Path.Combine(work, "metrics.jsonl"), StepOne + "\n" + StepTwo + "\n");
            using var ps = Shell("Wait-XTunerJob -WorkDir $args[0]", work);
            Assert.Single(ps.Invoke());
            Assert.False(ps.HadErrors, string.Join("\n", ps.Streams.Error));
            Assert.Equal("step 2/3 loss 1.0000 1,234 tok/s/GPU ETA 25:00:01 (COMPLETED on node1)", ps.Streams.Progress.First().StatusDescription);
        }

        public void Dispose()
        {
            _runspace.Dispose();
            Environment.SetEnvironmentVariable("XTUNER_WORKER", _savedWorker);
            Directory.Delete(_folder, recursive: true);
        }
    }
}
