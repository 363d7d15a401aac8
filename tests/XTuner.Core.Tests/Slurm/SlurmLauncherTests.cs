using System;
using System.IO;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Core.Slurm;
using Xunit;

namespace XTuner.Core.Tests.Slurm
{
    /// <summary>The SLURM launcher's own work, with scripts standing in for SLURM's commands (no cluster needed).</summary>
    public class SlurmLauncherTests : IDisposable
    {
        private readonly string _dir = TempDir.Create();

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        private SlurmPlan Plan(string workDir, LaunchOptions? options = null)
        {
            options ??= new LaunchOptions();
            options.BaseDirectory = _dir;
            options.WorkDir = workDir;
            options.Worker = new WorkerCommand("/usr/bin/dotnet", new[] { "/opt/xtuner/bin/xtuner/xtuner.dll" });
            return SlurmLauncher.Plan(ConfigCatalogue.Get("tiny-llama-sp2"), options);
        }

        [Fact]
        public void ThePlanCarriesTheConfigsWarnings()
        {
            Assert.Empty(Plan(Path.Combine(_dir, "work")).Warnings);
            var plan = Plan(Path.Combine(_dir, "work"), new LaunchOptions { ConfigOptions = { "dtype=bfloat16" } });
            var warning = Assert.Single(plan.Warnings);
            Assert.Equal(("dtype", FindingSeverity.Warning), (warning.Key, warning.Severity));
            Assert.Contains("bfloat16 on CPU", warning.Message);
        }

        [Fact]
        public void InsideAnAllocationTheScriptsOutputGoesToTheJobFilesWhateverTheWorkDirIsCalledAndTheLastCompleteStepIsRead()
        {
            var plan = Plan(Path.Combine(_dir, "a\\b c"));
            plan.AllocationJobId = "7";
            // The last metrics line has no newline yet: it is being written.
            plan.Script = "echo out; echo err >&2; printf '{\"step\":1}\\n{\"step\":2}\\n{\"step\":3}' > metrics.jsonl\n";
            var client = new SlurmClient(searchPath: Path.GetDirectoryName(FakeProgram.Write(Path.Combine(_dir, "bin"), "srun", "exit 0")));
            var job = SlurmLauncher.Submit(plan, client: client);
            Assert.Equal(SlurmJobState.Completed, job.State);
            Assert.Equal(2, job.Step);
            Assert.Equal("out\n", File.ReadAllText(Path.Combine(plan.WorkDir, "slurm-7.out")));
            Assert.Equal("err\n", File.ReadAllText(Path.Combine(plan.WorkDir, "slurm-7.err")));
        }
    }
}
