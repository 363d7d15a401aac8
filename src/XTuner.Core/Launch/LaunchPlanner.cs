using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Models;
using XTuner.Core.Runs;

namespace XTuner.Core.Launch
{
    /// <summary>
    /// Turns a config and the user's overrides into a <see cref="LaunchPlan"/>: the config the ranks read (paths made
    /// absolute, validated), the SP and DP groups, and each rank's environment (torchrun variables; on CUDA, python3's
    /// CUDA libtorch, asked once here rather than by every rank).
    /// </summary>
    public static class LaunchPlanner
    {
        /// <summary>Environment every rank gets; NVLink multicast stays off (it can take shared GPUs out of service).</summary>
        public static readonly IReadOnlyDictionary<string, string> NcclDefaults = new Dictionary<string, string>
        {
            ["NCCL_NVLS_ENABLE"] = "0",
            ["TORCH_SYMM_MEM_DISABLE_MULTICAST"] = "1",
            ["NVSHMEM_DISABLE_NVLS"] = "1",
        };

        /// <summary>
        /// Names the launching process in every rank's environment: a rank exits when it is gone, and
        /// <see cref="RunControl"/> tells a rank from an unrelated process that was given its pid later.
        /// </summary>
        public const string LauncherPidVariable = "XTUNER_LAUNCHER_PID";

        /// <summary>The config with overrides applied and paths made absolute, validated. Throws with every error.</summary>
        public static XTunerConfig Prepare(XTunerConfig source, LaunchOptions options, out IReadOnlyList<ConfigFinding> warnings)
        {
            var config = source.Clone();
            var baseDir = config.SourcePath != null ? Path.GetDirectoryName(config.SourcePath)! : options.BaseDirectory;
            // A GPU recipe moved to the CPU (-Device Cpu, --device cpu) trains in float32: bf16 is a GPU choice there.
            bool movedToCpu = options.Device == DeviceKind.Cpu && config.Device == DeviceKind.Cuda && config.DType == TrainingDType.BFloat16;
            if (options.Device is DeviceKind d) config.Device = d;
            if (movedToCpu) config.DType = TrainingDType.Float32;
            if (options.GpusPerNode is int g) config.GpusPerNode = g;
            if (options.Nodes is int nodes) config.Nodes = nodes;
            if (options.SequenceParallelSize is int sp) config.SequenceParallelSize = sp;
            if (options.MaxSteps is int steps) config.MaxSteps = steps;
            ConfigYaml.ApplyOptions(config, options.ConfigOptions);
            var workDir = options.WorkDir ?? config.WorkDir;
            config.WorkDir = workDir != null ? PathUtil.Resolve(workDir, options.WorkDir != null ? options.BaseDirectory : baseDir) : WorkDirLayout.Default(config.Name, options.BaseDirectory);
            MakePathsAbsolute(config, baseDir);
            var findings = ConfigValidator.ThrowIfInvalid(config, baseDir).ToList();
            if (movedToCpu && config.DType == TrainingDType.Float32)
                findings.Add(new ConfigFinding(FindingSeverity.Warning, "dtype", "The config computes in bfloat16 on CUDA; on the CPU it trains in float32 (set dtype to override)."));
            warnings = findings;
            return config;
        }

        /// <summary>
        /// <paramref name="warnings"/> and, on CUDA, the planner's <see cref="ErrorIds.PredictedOutOfMemory"/> warning when
        /// it predicts the layout does not fit a GPU (for the launchers, not for each rank).
        /// </summary>
        public static IReadOnlyList<ConfigFinding> WithMemoryWarning(XTunerConfig prepared, IReadOnlyList<ConfigFinding> warnings) =>
            Planning.LaunchMemoryCheck.Warning(prepared) is ConfigFinding memory ? warnings.Concat(new[] { memory }).ToList() : warnings;

        /// <summary>Plans one process per rank on this machine.</summary>
        public static LaunchPlan PlanLocal(XTunerConfig source, LaunchOptions options) => PlanLocal(source, options, out _);

        /// <summary>
        /// Plans one process per rank on this machine; <paramref name="warnings"/> are the config's warnings. With
        /// <see cref="LaunchOptions.Nodes"/> (NNODES), this machine's ranks of a run that spans several machines, each
        /// with its own launcher: node <see cref="LaunchOptions.NodeRank"/> runs ranks NODE_RANK x gpus_per_node onwards.
        /// </summary>
        public static LaunchPlan PlanLocal(XTunerConfig source, LaunchOptions options, out IReadOnlyList<ConfigFinding> warnings)
        {
            var config = Prepare(source, options, out warnings);
            warnings = WithMemoryWarning(config, warnings);
            if (config.Nodes != 1 && options.Nodes == null)
                throw new XTunerConfigException(new ConfigFinding(FindingSeverity.Error, "nodes",
                    $"nodes {config.Nodes}: the local launcher runs on one machine; use -Launcher Slurm (xtuner train --launcher slurm) for several nodes, " +
                    "or start xtuner train on every node with NNODES, NODE_RANK, ADDR and PORT set, or set nodes: 1.",
                    ErrorIds.InvalidWorldSize));
            var layout = new ParallelLayout(config.WorldSize, config.SequenceParallelSize);
            if (options.Resume || options.ResumeFrom != null)
                WorkDirs.CheckResumable(config.WorkDir!, options.ResumeFrom != null ? PathUtil.Resolve(options.ResumeFrom, options.BaseDirectory) : null);
            // On a node other than 0 the launcher keeps its own run record, logs and config in a folder of the work dir,
            // so that nodes sharing a file system do not take each other's run for theirs.
            var workDir = options.NodeRank > 0 ? Path.Combine(config.WorkDir!, "node" + options.NodeRank) : config.WorkDir!;
            if (options.NodeRank > 0) config.WorkDir = workDir;
            var plan = new LaunchPlan
            {
                Config = config,
                WorkDir = workDir,
                ConfigPath = new WorkDirLayout(workDir).Config,
                Worker = options.Worker ?? WorkerLocator.Find(),
                SequenceParallelGroups = layout.SpGroups,
                DataParallelGroups = layout.DpGroups,
            };
            plan.Arguments.AddRange(new[] { "train", plan.ConfigPath, "--launcher", "pytorch" });
            if (options.Resume || options.ResumeFrom != null)
            {
                plan.Arguments.Add("--resume");
                if (options.ResumeFrom != null) plan.Arguments.Add(PathUtil.Resolve(options.ResumeFrom, options.BaseDirectory));
            }
            int port = options.MasterPort > 0 ? options.MasterPort : FreePort();
            foreach (var pair in NcclDefaults) plan.SharedEnvironment[pair.Key] = pair.Value;
            plan.SharedEnvironment[LauncherPidVariable] = System.Diagnostics.Process.GetCurrentProcess().Id.ToString();
            if (config.Device == DeviceKind.Cpu)
                plan.SharedEnvironment["OMP_NUM_THREADS"] = Math.Max(1, Environment.ProcessorCount / config.GpusPerNode).ToString();
            foreach (var pair in PassedThroughEnvironment()) plan.SharedEnvironment[pair.Key] = pair.Value;
            if (config.Device == DeviceKind.Cuda && !plan.SharedEnvironment.ContainsKey(PythonTorch.LibTorchDirVariable) &&
                PythonTorch.FindCudaLibTorch() is string libTorch)
                plan.SharedEnvironment[PythonTorch.LibTorchDirVariable] = libTorch;
            if (config.Nodes > 1 && options.MasterPort <= 0)
                throw new XTunerException(ErrorIds.InvalidRankEnvironment, $"A run over {config.Nodes} nodes needs the port of rank 0's store on node 0: set PORT.");
            var address = options.MasterAddress ?? RankEnvironment.LoopbackAddress;
            for (int local = 0; local < config.GpusPerNode; local++)
            {
                int r = options.NodeRank * config.GpusPerNode + local;
                var rank = new RankSpec
                {
                    Rank = r,
                    LocalRank = local,
                    Node = options.NodeRank,
                    Device = config.Device == DeviceKind.Cuda ? $"cuda:{local / config.RanksPerGpu}" : "cpu",
                };
                var identity = new RankEnvironment(r, config.WorldSize, local, config.GpusPerNode, options.NodeRank, address, port, RankLauncher.Local);
                foreach (var pair in identity.ToTorchrunVariables()) rank.Environment[pair.Key] = pair.Value;
                if (r == 0 && options.Events) rank.Environment[Runs.RunEvent.EnvironmentVariable] = "1";
                plan.Ranks.Add(rank);
            }
            return plan;
        }

        /// <summary>
        /// Takes the work dir's lock (<see cref="WorkDirLock"/>: a second run started at the same time fails here, before
        /// it writes anything), checks the work dir may be used and writes the config the ranks read. Call just before
        /// starting; the <see cref="LocalLauncher"/> releases the lock when its run ends.
        /// </summary>
        /// <exception cref="XTunerException">Another run holds or uses the work dir, or it cannot be written.</exception>
        public static void PrepareWorkDir(LaunchPlan plan, bool resume)
        {
            var held = WorkDirLock.Acquire(plan.WorkDir);
            try
            {
                PrepareWorkDir(plan.WorkDir, plan.Config, plan.ConfigPath, resume);
            }
            catch
            {
                held.Dispose();
                throw;
            }
        }

        /// <summary>Checks <paramref name="workDir"/> may be used and writes <paramref name="config"/> where the ranks read it.</summary>
        public static void PrepareWorkDir(string workDir, XTunerConfig config, string configPath, bool resume)
        {
            WorkDirs.CheckCanStart(workDir, resume);
            Directory.CreateDirectory(workDir);
            ConfigYaml.Save(config, configPath);
        }

        /// <summary>
        /// This process's settings that ranks need as they are, whatever launches them: where libtorch is (a CUDA
        /// libtorch from a PyTorch install) and the CUDA allocator's settings. Only the variables that are set.
        /// </summary>
        public static IReadOnlyDictionary<string, string> PassedThroughEnvironment()
        {
            var passed = new Dictionary<string, string>();
            foreach (var name in new[] { PythonTorch.LibTorchDirVariable, "LD_LIBRARY_PATH", "PYTORCH_CUDA_ALLOC_CONF" })
            {
                var value = Environment.GetEnvironmentVariable(name);
                if (!string.IsNullOrEmpty(value)) passed[name] = value!;
            }
            return passed;
        }

        private static void MakePathsAbsolute(XTunerConfig config, string baseDir)
        {
            config.DataFiles = config.DataFiles.Select(f => BuiltinData.IsBuiltin(f) ? f : PathUtil.Resolve(f, baseDir)).ToList();
            if (config.Tokenizer != null && !string.Equals(config.Tokenizer, "byte", StringComparison.OrdinalIgnoreCase))
                config.Tokenizer = PathUtil.Resolve(config.Tokenizer, baseDir);
            if (!string.IsNullOrWhiteSpace(config.DatasetCacheDir) && !Datasets.DatasetCacheDirectory.IsDisabled(config.DatasetCacheDir))
                config.DatasetCacheDir = PathUtil.Resolve(config.DatasetCacheDir!, baseDir);
            var model = config.PretrainedModelNameOrPath;
            if (model != null)
            {
                var local = PathUtil.Resolve(model, baseDir);
                if (Directory.Exists(local) || HfCheckpointLocator.LooksLikePath(model)) config.PretrainedModelNameOrPath = local;
            }
            config.SourcePath = null;
        }

        /// <summary>A TCP port free on loopback right now.</summary>
        public static int FreePort()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            return port;
        }
    }
}
