using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using Xunit;

namespace XTuner.Core.Tests.Launch
{
    /// <summary>Local launch plans: what each rank's process is given.</summary>
    public class LaunchPlannerTests : IDisposable
    {
        private readonly string _dir = TempDir.Create();

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        [Fact]
        public void EachRankGetsTorchrunsVariablesForItsPlaceInTheWorld()
        {
            var plan = LaunchPlanner.PlanLocal(ConfigCatalogue.Get("tiny-llama-sp2"), Options(_dir, DeviceKind.Cpu, 4));
            var port = int.Parse(plan.Ranks[0].Environment["MASTER_PORT"]);
            Assert.All(plan.Ranks, r =>
            {
                var env = EnvironmentOf(plan, r);
                Assert.Equal("0", env["GROUP_RANK"]);
                var identity = RankEnvironment.FromEnvironment(env.ToDictionary(p => p.Key, p => (object)p.Value), slurm: false);
                Assert.Equal((r.Rank, 4, r.Rank, 4, 0, RankEnvironment.LoopbackAddress, port, RankLauncher.Local),
                    (identity.Rank, identity.WorldSize, identity.LocalRank, identity.LocalWorldSize, identity.NodeRank, identity.MasterAddress, identity.MasterPort, identity.Launcher));
            });
            Assert.Equal(new[] { 0, 1, 2, 3 }, plan.Ranks.Select(r => r.Rank));
        }

        internal static LaunchOptions Options(string dir, DeviceKind device, int ranks) => new LaunchOptions
        {
            BaseDirectory = dir,
            WorkDir = Path.Combine(dir, "work"),
            Device = device,
            GpusPerNode = ranks,
            Worker = new WorkerCommand("/usr/bin/dotnet", new[] { "/opt/xtuner/bin/xtuner/xtuner.dll" }),
        };

        /// <summary>What a rank's process sees: the shared environment overlaid with its own, as the launcher starts it.</summary>
        internal static Dictionary<string, string> EnvironmentOf(LaunchPlan plan, RankSpec rank)
        {
            var env = new Dictionary<string, string>(plan.SharedEnvironment);
            foreach (var pair in rank.Environment) env[pair.Key] = pair.Value;
            return env;
        }
    }

    /// <summary>Local launch plans on CUDA, with a stand-in python3 on PATH.</summary>
    [Collection(ProcessEnvironment.Name)]
    public class LaunchPlannerLibTorchTests : IDisposable
    {
        private readonly string _dir = TempDir.Create();

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        [Fact]
        public void OnCudaPython3IsAskedOnceAndEveryRankGetsItsAnswer()
        {
            var lib = Directory.CreateDirectory(Path.Combine(_dir, "torch", "lib")).FullName;
            File.WriteAllText(Path.Combine(lib, PythonTorch.CudaLibrary), "");
            var asked = Path.Combine(_dir, "asked");
            var bin = Path.GetDirectoryName(FakeProgram.Write(Path.Combine(_dir, "bin"), "python3", $"echo >> '{asked}'; echo '{lib}'"))!;
            var config = ConfigCatalogue.Get("tiny-llama-sp2");
            using (ProcessEnvironment.Set(new Dictionary<string, string?>
                   {
                       ["PATH"] = bin + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH"),
                       [PythonTorch.LibTorchDirVariable] = null,
                   }))
            {
                var plan = LaunchPlanner.PlanLocal(config, LaunchPlannerTests.Options(_dir, DeviceKind.Cuda, 4));
                Assert.Equal(4, plan.Ranks.Count);
                Assert.All(plan.Ranks, r => Assert.Equal(lib, LaunchPlannerTests.EnvironmentOf(plan, r)[PythonTorch.LibTorchDirVariable]));
                Assert.Single(File.ReadAllLines(asked));

                var cpu = LaunchPlanner.PlanLocal(config, LaunchPlannerTests.Options(_dir, DeviceKind.Cpu, 2));
                Assert.False(cpu.SharedEnvironment.ContainsKey(PythonTorch.LibTorchDirVariable));
                Assert.Single(File.ReadAllLines(asked));

                using (ProcessEnvironment.Set(new Dictionary<string, string?> { [PythonTorch.LibTorchDirVariable] = "/given/torch/lib" }))
                {
                    var given = LaunchPlanner.PlanLocal(config, LaunchPlannerTests.Options(_dir, DeviceKind.Cuda, 2));
                    Assert.Equal("/given/torch/lib", given.SharedEnvironment[PythonTorch.LibTorchDirVariable]);
                    Assert.Single(File.ReadAllLines(asked));
                }
            }
        }
    }
}
