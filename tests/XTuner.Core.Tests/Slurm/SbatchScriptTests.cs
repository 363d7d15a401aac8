using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Core.Runs;
using XTuner.Core.Slurm;
using Xunit;

namespace XTuner.Core.Tests.Slurm
{
    /// <summary>The sbatch script a plan writes, read as text and checked with bash, and what the ranks see under it.</summary>
    public class SbatchScriptTests : IDisposable
    {
        private readonly string _dir = TempDir.Create();

        private static readonly WorkerCommand Worker = new WorkerCommand("/usr/bin/dotnet", new[] { "/opt/xtuner/bin/xtuner/xtuner.dll" });

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        private SlurmPlan Plan(string catalogueName, Action<XTunerConfig>? edit = null, LaunchOptions? options = null)
        {
            var config = ConfigCatalogue.Get(catalogueName);
            edit?.Invoke(config);
            options ??= new LaunchOptions();
            options.BaseDirectory = _dir;
            options.WorkDir ??= Path.Combine(_dir, "work");
            options.Worker = Worker;
            var plan = SlurmLauncher.Plan(config, options);
            // Tests may run inside an allocation; the script is the same either way.
            plan.AllocationJobId = null;
            return plan;
        }

        private static List<string> Directives(SlurmPlan plan) =>
            plan.Script.Split('\n').Where(l => l.StartsWith("#SBATCH ", StringComparison.Ordinal)).Select(l => l.Substring(8)).ToList();

        private static Dictionary<string, string> Exports(SlurmPlan plan) =>
            plan.Script.Split('\n').Where(l => l.StartsWith("export ", StringComparison.Ordinal) && !l.Contains("$"))
                .Select(l => l.Substring(7).Split(new[] { '=' }, 2)).ToDictionary(p => p[0], p => p[1].Trim('\''));

        private static string SrunLine(SlurmPlan plan) =>
            plan.Script.Substring(plan.Script.IndexOf("exec srun", StringComparison.Ordinal)).Replace("\\\n    ", "").Trim();

        [Fact]
        public void CpuPlanRunsOneSrunTaskPerRankWithoutGpus()
        {
            var plan = Plan("tiny-llama-sp2");
            var work = Path.Combine(_dir, "work");
            Assert.Equal(new[]
            {
                "--job-name=tiny-llama-sp2", "--nodes=1", "--ntasks-per-node=2", $"--chdir={work}",
                $"--output={work}/slurm-%j.out", $"--error={work}/slurm-%j.err", "--open-mode=append", "--requeue", "--signal=USR1@120",
            }, Directives(plan));
            Assert.StartsWith("#!/bin/bash\n", plan.Script);
            Assert.Contains("export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-$(( threads > 0 ? threads : 1 ))}", plan.Script);
            Assert.Contains("threads=$(( ${SLURM_CPUS_ON_NODE:-1} / 2 ))", plan.Script);
            Assert.Equal(
                $"exec srun --nodes=1 --ntasks=2 --ntasks-per-node=2 --kill-on-bad-exit=1 --open-mode=append --output={work}/logs/rank%t.log " +
                $"/usr/bin/dotnet /opt/xtuner/bin/xtuner/xtuner.dll train {work}/config.yaml --launcher slurm \"${{resume[@]}}\"",
                SrunLine(plan));
            Assert.Equal(Path.Combine(work, "submit.sbatch"), plan.ScriptPath);
            Assert.Equal(Path.Combine(work, "config.yaml"), plan.ConfigPath);
            Assert.Equal(2, plan.Ranks);
        }

        [Fact]
        public void CudaPlanAsksForOneGpuPerRankAndSetsNoThreadCount()
        {
            var plan = Plan("llama2-7b-full-128k-sp8", c => c.RandomInit = true);
            Assert.Contains("--gres=gpu:8", Directives(plan));
            Assert.Contains("--ntasks-per-node=8", Directives(plan));
            Assert.DoesNotContain("OMP_NUM_THREADS", plan.Script);
            foreach (var pair in LaunchPlanner.NcclDefaults) Assert.Equal(pair.Value, Exports(plan)[pair.Key]);
        }

        [Fact]
        public void TwoNodesOfFourGpusGiveEightRanksThatAgreeOnTheMaster()
        {
            var plan = Plan("tiny-llama", c =>
            {
                c.Device = DeviceKind.Cuda;
                c.Nodes = 2;
                c.GpusPerNode = 4;
                c.SequenceParallelSize = 4;
            });
            Assert.Contains("--nodes=2", Directives(plan));
            Assert.Contains("--ntasks-per-node=4", Directives(plan));
            Assert.Contains("--gres=gpu:4", Directives(plan));
            Assert.Contains("srun --nodes=2 --ntasks=8 --ntasks-per-node=4 ", SrunLine(plan));
            Assert.DoesNotContain("MASTER_ADDR", plan.Script);

            // What srun gives each of the 8 tasks (block distribution: tasks 0-3 on gpu01, 4-7 on gpu02), with the script's exports.
            var exports = Exports(plan);
            var ranks = Enumerable.Range(0, 8).Select(task =>
            {
                var env = new Hashtable
                {
                    ["SLURM_JOB_ID"] = "4242",
                    ["SLURM_PROCID"] = task.ToString(),
                    ["SLURM_NTASKS"] = "8",
                    ["SLURM_NTASKS_PER_NODE"] = "4",
                    ["SLURM_TASKS_PER_NODE"] = "4(x2)",
                    ["SLURM_NODEID"] = (task / 4).ToString(),
                    ["SLURM_LOCALID"] = (task % 4).ToString(),
                    ["SLURM_JOB_NODELIST"] = "gpu[01-02]",
                    ["SLURM_STEP_NODELIST"] = "gpu[01-02]",
                };
                foreach (var pair in exports) env[pair.Key] = pair.Value;
                return RankEnvironment.FromEnvironment(env, slurm: true);
            }).ToList();
            Assert.Equal(Enumerable.Range(0, 8), ranks.Select(r => r.Rank));
            Assert.All(ranks, r => Assert.Equal((8, 4), (r.WorldSize, r.LocalWorldSize)));
            Assert.Equal(new[] { 0, 1, 2, 3, 0, 1, 2, 3 }, ranks.Select(r => r.CudaDeviceIndex(visibleDevices: 4)));
            Assert.Equal(new[] { 0, 0, 0, 0, 1, 1, 1, 1 }, ranks.Select(r => r.NodeRank));
            Assert.All(ranks, r => Assert.Equal("gpu01", r.MasterAddress));
            Assert.Single(ranks.Select(r => r.MasterPort).Distinct());
            // Each SP group of 4 lies on one node.
            var layout = new ParallelLayout(8, 4);
            Assert.All(layout.SpGroups, g => Assert.Single(g.Select(rank => ranks[rank].NodeRank).Distinct()));
        }

        [Fact]
        public void SlurmSettingsBecomeDirectivesAndExtraLinesComeLast()
        {
            var plan = Plan("tiny-llama-sp2", c =>
            {
                c.Slurm.Partition = "gpu";
                c.Slurm.Account = "proj42";
                c.Slurm.Time = "2-00:00:00";
                c.Slurm.CpusPerTask = 8;
                c.Slurm.JobName = "my run";
                c.Slurm.SignalSeconds = 300;
                c.Slurm.Gres = "gpu:a100:2";
                c.Slurm.ExtraSbatchLines = new List<string> { "--qos=high", "#SBATCH --exclusive", "constraint=ib" };
            });
            var d = Directives(plan);
            Assert.Equal("--job-name=\"my run\"", d[0]);
            Assert.Contains("--partition=gpu", d);
            Assert.Contains("--account=proj42", d);
            Assert.Contains("--time=2-00:00:00", d);
            Assert.Contains("--cpus-per-task=8", d);
            Assert.Contains("--signal=USR1@300", d);
            Assert.Contains("--gres=gpu:a100:2", d);
            Assert.Equal(new[] { "--qos=high", "--exclusive", "--constraint=ib" }, d.Skip(d.Count - 3));
        }

        [Fact]
        public void ValuesAreQuotedForSbatchAndPathsForBash()
        {
            var plan = Plan("tiny-llama-sp2", c => c.Slurm.JobName = "a b#c\"d'e\\f",
                new LaunchOptions { WorkDir = Path.Combine(_dir, "it's 100% here") });
            var work = Path.Combine(_dir, "it's 100% here");
            var d = Directives(plan);
            Assert.Equal("--job-name=\"a b#c\\\"d'e\\\\f\"", d[0]);
            Assert.Contains($"--output=\"{work.Replace("%", "%%")}/slurm-%j.out\"", d);
            Assert.Contains("work_dir=" + WorkerCommand.Quote(work) + "\n", plan.Script);
            Assert.Contains(WorkerCommand.Quote($"--output={work.Replace("%", "%%")}/logs/rank%t.log"), plan.Script);
            AssertBashSyntax(plan.Script);
        }

        [Fact]
        public void ALineBreakInAValueIsRefusedWithTheKey()
        {
            var e = Assert.Throws<XTunerConfigException>(() => Plan("tiny-llama-sp2", c => c.Slurm.Partition = "gpu\n#SBATCH --exclusive"));
            Assert.Equal("slurm.partition", e.Findings.Single().Key);
            Assert.Equal(ErrorIds.InvalidConfigValue, e.ErrorId);
        }

        [Fact]
        public void PlanningValidatesTheConfigLikeALocalLaunch()
        {
            var e = Assert.Throws<XTunerConfigException>(() => Plan("tiny-llama-sp2", c => c.SequenceParallelSize = 3));
            Assert.Equal(ErrorIds.InvalidSequenceParallelSize, e.ErrorId);
        }

        [Fact]
        public void OverridesAndRelativePathsAreAppliedAsForALocalLaunch()
        {
            var plan = Plan("tiny-llama-sp2", options: new LaunchOptions { WorkDir = "rel/work", MaxSteps = 3, ConfigOptions = { "slurm.partition=debug" } });
            Assert.Equal(Path.Combine(_dir, "rel", "work"), plan.WorkDir);
            Assert.Equal(3, plan.Config.MaxSteps);
            Assert.Contains("--partition=debug", Directives(plan));
        }

        [Theory]
        [InlineData(false, null, "resume=()")]
        [InlineData(true, null, "resume=(--resume)")]
        [InlineData(false, "/ckpt/step-9", "resume=(--resume /ckpt/step-9)")]
        public void TheScriptResumesFromTheWorkDirsLatestCheckpointOnceThereIsOne(bool resume, string? from, string initial)
        {
            var plan = Plan("tiny-llama-sp2", options: new LaunchOptions { Resume = resume, ResumeFrom = from });
            Assert.Contains(initial + "\n", plan.Script);
            Assert.Equal(!resume, plan.Script.Contains("/checkpoints/step-*/trainer_state.json; do"));
        }

        [Fact]
        public void TheScriptChoosesResumeAtRunTime()
        {
            var plan = Plan("tiny-llama-sp2");
            // Run everything but the srun step, and print what it would pass.
            var script = plan.Script.Replace("exec srun", "echo srun") + "\n";
            Assert.EndsWith("\"${resume[@]}\"\n\n", script);
            string Resume() => RunBash(script.Replace("echo srun", ": ") + "echo \"[${resume[*]}]\"\n");
            Assert.DoesNotContain("--resume", Resume());
            var checkpoint = Directory.CreateDirectory(Path.Combine(plan.WorkDir, "checkpoints", "step-2")).FullName;
            File.WriteAllText(Path.Combine(checkpoint, "trainer_state.json"), "{}");
            Assert.Contains("[--resume]", Resume());
        }

        [Fact]
        public void TheScriptResumesOnlyFromACompleteCheckpointAsTheLaunchersDo()
        {
            var plan = Plan("tiny-llama-sp2");
            var script = plan.Script.Replace("exec srun", ": ") + "\necho \"[${resume[*]}]\"\n";
            var checkpoints = Path.Combine(plan.WorkDir, "checkpoints");
            // A save that crashed before its rename, trainer_state.json included, and a folder the save never finished.
            File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(checkpoints, "step-000004.tmp")).FullName, "trainer_state.json"), "{}");
            Directory.CreateDirectory(Path.Combine(checkpoints, "step-000002"));
            Assert.Null(new WorkDirLayout(plan.WorkDir).LatestCheckpoint);
            Assert.Contains("[]", RunBash(script));
            File.WriteAllText(Path.Combine(checkpoints, "step-000002", "trainer_state.json"), "{}");
            Assert.Equal(Path.Combine(checkpoints, "step-000002"), new WorkDirLayout(plan.WorkDir).LatestCheckpoint);
            Assert.Contains("[--resume]", RunBash(script));
        }

        [Fact]
        public void OnCudaTheScriptAsksPython3ForLibTorchOnceOnTheJobsNode()
        {
            var plan = Plan("llama2-7b-full-128k-sp8", c => c.RandomInit = true);
            plan.Environment.Remove(PythonTorch.LibTorchDirVariable);
            var script = SbatchScript.Render(plan).Replace("exec srun", ": ") + "\necho \"[${XTUNER_LIBTORCH_DIR:-}]\"\n";
            var lib = Directory.CreateDirectory(Path.Combine(_dir, "torch", "lib")).FullName;
            File.WriteAllText(Path.Combine(lib, PythonTorch.CudaLibrary), "");
            var asked = Path.Combine(_dir, "asked");
            var bin = Path.Combine(_dir, "bin");
            var path = new Dictionary<string, string?> { ["PATH"] = bin + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH") };

            FakeProgram.Write(bin, "python3", $"[ \"$2\" = \"{PythonTorch.Program}\" ] || exit 9; echo >> '{asked}'; echo 'noise' >&2; echo '{lib}'");
            Assert.Contains($"[{lib}]", RunBash(script, environment: path));
            Assert.Single(File.ReadAllLines(asked));
            Assert.Contains("[/given]", RunBash(script, environment: new Dictionary<string, string?>(path) { [PythonTorch.LibTorchDirVariable] = "/given" }));
            Assert.Single(File.ReadAllLines(asked));
            FakeProgram.Write(bin, "python3", $"echo '{Path.GetDirectoryName(lib)}'");
            Assert.Contains("[]", RunBash(script, environment: path));

            plan.Environment[PythonTorch.LibTorchDirVariable] = lib;
            Assert.DoesNotContain("python3", SbatchScript.Render(plan));
            Assert.DoesNotContain("python3", Plan("tiny-llama-sp2").Script);
        }

        [Fact]
        public void EveryStartOfTheJobMakesASecretForItsRanksUnlessTheSubmitterGaveOne()
        {
            var plan = Plan("tiny-llama-sp2");
            Assert.DoesNotContain(RunToken.Variable + "=", string.Join("\n", Exports(plan).Keys));
            var script = plan.Script.Replace("exec srun", ": ") + "\necho \"[$" + RunToken.Variable + "]\"\n";
            var first = RunBash(script).Trim();
            var second = RunBash(script).Trim();
            Assert.Matches("^\\[[0-9a-f]{64}\\]$", first);
            Assert.NotEqual(first, second);
            Assert.Equal("[given]", RunBash(script, environment: new Dictionary<string, string?> { [RunToken.Variable] = "given" }).Trim());
        }

        private static void AssertBashSyntax(string script) => RunBash(script, "-n");

        private static string RunBash(string script, string flags = "", IReadOnlyDictionary<string, string?>? environment = null)
        {
            var path = Path.Combine(Path.GetTempPath(), "xtuner-sbatch-" + Guid.NewGuid().ToString("N") + ".sh");
            File.WriteAllText(path, script);
            try
            {
                var info = new ProcessStartInfo("/bin/bash", (flags + " " + path).Trim())
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                };
                info.Environment.Remove("SLURM_JOB_ID");
                info.Environment.Remove(PythonTorch.LibTorchDirVariable);
                foreach (var pair in environment ?? new Dictionary<string, string?>()) info.Environment[pair.Key] = pair.Value;
                using var p = Process.Start(info)!;
                var output = p.StandardOutput.ReadToEnd();
                var error = p.StandardError.ReadToEnd();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, $"bash {flags} failed ({p.ExitCode}): {error}");
                return output;
            }
            finally
            {
                File.Delete(path);
            }
        }
    }
}
