using System;
using System.Collections.Generic;
using System.IO;
using System.Text.RegularExpressions;
using XTuner.Core.Runs;
using XTuner.Core.Tests.Slurm;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Cli
{
    /// <summary>xtuner submit and xtuner job as a user runs them; the SLURM ones train for real on the test cluster.</summary>
    public class SubmitCommandTests : IDisposable
    {
        private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "xtuner-submit-" + Guid.NewGuid().ToString("N"))).FullName;

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        private static RankResult Xtuner(params string[] args) =>
            RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() }, TimeSpan.FromMinutes(4), args)[0];

        [Fact]
        public void DryRunPrintsTheScriptAndWritesNothing()
        {
            var work = Path.Combine(_dir, "work");
            var result = Xtuner("submit", "tiny-llama-sp2", "--work-dir", work, "--dry-run", "-p", "gpu", "--time", "1:00:00", "--cfg-options", "slurm.extra_sbatch_lines=[--qos=high]");
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.StartsWith("#!/bin/bash\n", result.Output);
            Assert.Contains("#SBATCH --partition=gpu\n", result.Output);
            Assert.Contains("#SBATCH --time=1:00:00\n", result.Output);
            Assert.Contains("#SBATCH --qos=high\n", result.Output);
            Assert.Contains($"train {work}/config.yaml --launcher slurm \"${{resume[@]}}\"", result.Output);
            Assert.False(Directory.Exists(work));
        }

        [SlurmFact]
        public void SubmitTrainsAsASlurmJobThatJobFollowsToTheEnd()
        {
            SlurmCluster.Require();
            var work = Path.Combine(_dir, "work");
            var submitted = Xtuner("submit", "tiny-llama-sp2", "--work-dir", work, "--max-steps", "3", "--wait");
            Assert.True(submitted.ExitCode == 0, submitted.ToString());
            var id = Regex.Match(submitted.Output, @"Submitted SLURM job (\d+): 2 rank\(s\) on 1 node\(s\)").Groups[1].Value;
            Assert.NotEmpty(id);
            Assert.Contains($"job {id} tiny-llama-sp2: COMPLETED on localhost, 2 rank(s), step 3/3", submitted.Output);
            Assert.Equal(3, MetricsFile.Read(work).Count);

            var shown = Xtuner("job", "--work-dir", work);
            Assert.True(shown.ExitCode == 0, shown.ToString());
            Assert.Contains($"job {id} tiny-llama-sp2: COMPLETED", shown.Output);
            Assert.Contains("exit code 0", shown.Output);

            var refused = Xtuner("submit", "tiny-llama-sp2", "--work-dir", Path.Combine(_dir, "refused"), "-p", "no-such-partition");
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("[XTunerSlurmSubmitFailed]", refused.Error);
            Assert.Contains("invalid partition specified: no-such-partition", refused.Error);
        }

        [SlurmFact]
        public void InsideAnAllocationSubmitRunsTheStepThere()
        {
            SlurmCluster.Require();
            var work = Path.Combine(_dir, "work");
            var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
            var (code, output) = SlurmCluster.Run("salloc", $"--ntasks=2 {dotnet} {RankProcesses.Cli} submit tiny-llama-sp2 --work-dir {work} --max-steps 3", 240000);
            Assert.True(code == 0, output);
            var allocation = Regex.Match(output, @"Inside SLURM allocation (\d+): running 2 rank\(s\) with srun").Groups[1].Value;
            Assert.NotEmpty(allocation);
            Assert.Contains($"job {allocation} tiny-llama-sp2: COMPLETED", output);
            Assert.Equal(3, MetricsFile.Read(work).Count);
            Assert.Contains("srun) |", File.ReadAllText(Path.Combine(work, "logs", "rank0.log")));
        }

        [Fact]
        public void SubmitPrintsTheConfigsWarningsOnStderrAndOnlyTheScriptOnStdout()
        {
            var result = Xtuner("submit", "tiny-llama-sp2", "--work-dir", Path.Combine(_dir, "warned"), "--dry-run", "--cfg-options", "dtype=bfloat16");
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("warning: bfloat16 on CPU is slow", result.Error);
            Assert.StartsWith("#!/bin/bash\n", result.Output.Replace("\r\n", "\n"));
        }
    }
}