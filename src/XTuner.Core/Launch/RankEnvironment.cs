using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace XTuner.Core.Launch
{
    /// <summary>Where a rank's identity came from.</summary>
    public enum RankLauncher
    {
        /// <summary>No launcher variables: one process, world size 1.</summary>
        Single,

        /// <summary>torchrun's variables (RANK, WORLD_SIZE, ...) from torchrun or another launcher that sets them.</summary>
        Torchrun,

        /// <summary>torchrun's variables set by xtuner's own launcher (xtuner train, Start-XTunerTraining), which also
        /// names itself in XTUNER_LAUNCHER_PID.</summary>
        Local,

        /// <summary>An srun task (SLURM_PROCID, SLURM_NTASKS, ...).</summary>
        Slurm,
    }

    /// <summary>
    /// Who this process is in a distributed run: its global and node-local rank, the sizes, and where rank 0 hosts the
    /// rendezvous store. Read from torchrun's variables or from SLURM's, checked so that a bad launch fails at once with
    /// the variable named instead of hanging at the rendezvous.
    /// </summary>
    public sealed class RankEnvironment
    {
        /// <summary>Under SLURM without MASTER_PORT the port is this plus SLURM_JOB_ID modulo <see cref="SlurmPortSpan"/>:
        /// every task of a job derives the same port, jobs sharing a node mostly differ, and the range stays clear of
        /// privileged ports and of Linux's ephemeral range (32768 and up), where connections' own ports come from.</summary>
        public const int SlurmPortBase = 15000;

        public const int SlurmPortSpan = 15000;

        /// <summary>The address used when a one-process world has no master.</summary>
        public const string LoopbackAddress = "127.0.0.1";

        /// <exception cref="XTunerException">Inconsistent values (<see cref="ErrorIds.InvalidRankEnvironment"/>).</exception>
        public RankEnvironment(int rank, int worldSize, int localRank, int localWorldSize, int nodeRank,
            string masterAddress, int masterPort, RankLauncher launcher, string? runToken = null, string? bindAddress = null)
        {
            if (worldSize < 1) throw Invalid($"The world size must be 1 or more, not {worldSize}.");
            if (rank < 0 || rank >= worldSize) throw Invalid($"Rank {rank} is outside a world of {worldSize} (ranks 0 to {worldSize - 1}).");
            if (localWorldSize < 1 || localWorldSize > worldSize)
                throw Invalid($"The local world size {localWorldSize} must be between 1 and the world size {worldSize}.");
            if (localRank < 0 || localRank >= localWorldSize)
                throw Invalid($"Local rank {localRank} is outside the {localWorldSize} ranks of this node (0 to {localWorldSize - 1}).");
            if (nodeRank < 0) throw Invalid($"The node rank must be 0 or more, not {nodeRank}.");
            if (string.IsNullOrWhiteSpace(masterAddress)) throw Invalid("The master address is empty.");
            if (masterPort < 0 || masterPort > 65535 || (masterPort == 0 && worldSize > 1))
                throw Invalid($"The master port must be between 1 and 65535, not {masterPort}.");
            Rank = rank;
            WorldSize = worldSize;
            LocalRank = localRank;
            LocalWorldSize = localWorldSize;
            NodeRank = nodeRank;
            MasterAddress = masterAddress;
            MasterPort = masterPort;
            Launcher = launcher;
            RunToken = string.IsNullOrEmpty(runToken) ? null : runToken;
            BindAddress = string.IsNullOrWhiteSpace(bindAddress) ? null : bindAddress!.Trim();
        }

        /// <summary>A one-process world: rank 0 of 1, no master needed.</summary>
        public static RankEnvironment Single { get; } = new RankEnvironment(0, 1, 0, 1, 0, LoopbackAddress, 0, RankLauncher.Single);

        public int Rank { get; }

        public int WorldSize { get; }

        /// <summary>Index among the ranks on this node; also the CUDA device index (see <see cref="CudaDeviceIndex"/>).</summary>
        public int LocalRank { get; }

        public int LocalWorldSize { get; }

        public int NodeRank { get; }

        /// <summary>Host of rank 0, which serves the rendezvous store.</summary>
        public string MasterAddress { get; }

        /// <summary>Port of the rendezvous store; 0 only in a one-process world.</summary>
        public int MasterPort { get; }

        public RankLauncher Launcher { get; }

        /// <summary>The run's secret (<see cref="Launch.RunToken"/>); null when the launcher set none.</summary>
        public string? RunToken { get; }

        /// <summary>The address to listen on (<see cref="Launch.RunToken.BindAddressVariable"/>); null: xtuner picks it.</summary>
        public string? BindAddress { get; }

        public bool IsDistributed => WorldSize > 1;

        /// <summary>Every rank runs on this node: the rendezvous stays on loopback.</summary>
        public bool IsSingleNode => LocalWorldSize == WorldSize;

        /// <summary>Reads this process's environment (see <see cref="FromEnvironment"/>).</summary>
        public static RankEnvironment FromProcess(bool slurm) => FromEnvironment(Environment.GetEnvironmentVariables(), slurm);

        /// <summary>
        /// Reads SLURM's variables when <paramref name="slurm"/> is set (an srun task), else torchrun's; with none of
        /// torchrun's rank variables set, a one-process world.
        /// </summary>
        /// <exception cref="XTunerException">A variable is missing, not a number, or contradicts another
        /// (<see cref="ErrorIds.InvalidRankEnvironment"/>); the message names it.</exception>
        public static RankEnvironment FromEnvironment(IDictionary environment, bool slurm)
        {
            if (environment == null) throw new ArgumentNullException(nameof(environment));
            var env = new LaunchVariables(environment);
            return slurm ? FromSlurm(env) : FromTorchrun(env);
        }

        /// <summary>
        /// The CUDA device of this rank among the <paramref name="visibleDevices"/> the process sees: LOCAL_RANK /
        /// <paramref name="ranksPerGpu"/> when the node's GPUs are all visible, 0 when the launcher gave each task its own
        /// single GPU (CUDA_VISIBLE_DEVICES per task, as <c>srun --gpus-per-task=1</c> does).
        /// </summary>
        /// <exception cref="XTunerException">No GPU (<see cref="ErrorIds.CudaUnavailable"/>), or fewer GPUs than ranks on this
        /// node need (<see cref="ErrorIds.InvalidWorldSize"/>).</exception>
        public int CudaDeviceIndex(int visibleDevices, int ranksPerGpu = 1)
        {
            if (visibleDevices < 1)
                throw new XTunerException(ErrorIds.CudaUnavailable,
                    $"Rank {Rank} sees no CUDA device: check CUDA_VISIBLE_DEVICES and the driver, or train with --device cpu.");
            int index = LocalRank / Math.Max(1, ranksPerGpu);
            if (index < visibleDevices) return index;
            if (visibleDevices == 1) return 0;
            throw new XTunerException(ErrorIds.InvalidWorldSize,
                $"Local rank {LocalRank} has no GPU of its own: this node runs {LocalWorldSize} ranks{(ranksPerGpu > 1 ? $" ({ranksPerGpu} per GPU)" : "")} but the process sees " +
                $"{visibleDevices} CUDA devices. Start at most {visibleDevices * Math.Max(1, ranksPerGpu)} ranks per node, or set ranks_per_gpu.");
        }

        /// <summary>
        /// libtorch's CPU thread count for this rank: the node's cores shared among its ranks. libtorch uses every core
        /// in every process by default, and ranks sharing a machine then crawl.
        /// </summary>
        public int CpuThreadsPerRank(int processorCount) => Math.Max(1, processorCount / LocalWorldSize);

        /// <summary>torchrun's variables for this rank, as a launcher sets them for the rank's process.</summary>
        public IReadOnlyDictionary<string, string> ToTorchrunVariables() => new Dictionary<string, string>
        {
            ["RANK"] = Rank.ToString(CultureInfo.InvariantCulture),
            ["WORLD_SIZE"] = WorldSize.ToString(CultureInfo.InvariantCulture),
            ["LOCAL_RANK"] = LocalRank.ToString(CultureInfo.InvariantCulture),
            ["LOCAL_WORLD_SIZE"] = LocalWorldSize.ToString(CultureInfo.InvariantCulture),
            ["GROUP_RANK"] = NodeRank.ToString(CultureInfo.InvariantCulture),
            ["MASTER_ADDR"] = MasterAddress,
            ["MASTER_PORT"] = MasterPort.ToString(CultureInfo.InvariantCulture),
        };

        public override string ToString() =>
            $"rank {Rank} of {WorldSize} (local {LocalRank} of {LocalWorldSize} on node {NodeRank}, " +
            $"master {MasterAddress}:{MasterPort}, {LauncherName})";

        /// <summary>Who started this rank, in words for its log header.</summary>
        public string LauncherName
        {
            get
            {
                switch (Launcher)
                {
                    case RankLauncher.Local: return "xtuner launcher";
                    case RankLauncher.Slurm: return "srun";
                    case RankLauncher.Torchrun: return "torchrun variables";
                    default: return "single process";
                }
            }
        }

        private static RankEnvironment FromTorchrun(LaunchVariables env)
        {
            string[] rankVariables = { "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE" };
            var present = rankVariables.Where(env.Has).ToList();
            if (present.Count == 0) return Single;
            if (!env.Has("WORLD_SIZE") || !env.Has("RANK"))
            {
                var missing = !env.Has("WORLD_SIZE") ? "WORLD_SIZE" : "RANK";
                throw Invalid($"{missing} is not set but {string.Join(" and ", present)} {(present.Count == 1 ? "is" : "are")}: " +
                              "a rank needs RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT " +
                              "(torchrun and xtuner's launcher set them all).");
            }
            int worldSize = env.Int("WORLD_SIZE", min: 1);
            int rank = env.Int("RANK", min: 0);
            if (rank >= worldSize) throw Invalid($"RANK={rank} must be below WORLD_SIZE={worldSize}.");
            // A one-process world needs neither the node variables nor a master, but takes them when given.
            bool alone = worldSize == 1;
            int localWorldSize = alone && !env.Has("LOCAL_WORLD_SIZE") ? 1 : env.Int("LOCAL_WORLD_SIZE", min: 1);
            if (localWorldSize > worldSize)
                throw Invalid($"LOCAL_WORLD_SIZE={localWorldSize} must not exceed WORLD_SIZE={worldSize}.");
            int localRank = alone && !env.Has("LOCAL_RANK") ? 0 : env.Int("LOCAL_RANK", min: 0);
            if (localRank >= localWorldSize)
                throw Invalid($"LOCAL_RANK={localRank} must be below LOCAL_WORLD_SIZE={localWorldSize}.");
            // torchrun's node index; without it, nodes are taken to hold LOCAL_WORLD_SIZE ranks each.
            int nodeRank = env.Has("GROUP_RANK") ? env.Int("GROUP_RANK", min: 0) : rank / localWorldSize;
            var masterAddress = alone ? env.Get("MASTER_ADDR") ?? LoopbackAddress : env.Required("MASTER_ADDR", "the host of rank 0");
            int masterPort = alone && !env.Has("MASTER_PORT") ? 0 : env.Int("MASTER_PORT", min: 1, max: 65535);
            var launcher = env.Has(LaunchPlanner.LauncherPidVariable) ? RankLauncher.Local : RankLauncher.Torchrun;
            return new RankEnvironment(rank, worldSize, localRank, localWorldSize, nodeRank, masterAddress, masterPort, launcher,
                env.Get(Launch.RunToken.Variable), env.Get(Launch.RunToken.BindAddressVariable));
        }

        private static RankEnvironment FromSlurm(LaunchVariables env)
        {
            if (!env.Has("SLURM_PROCID"))
                throw Invalid("SLURM_PROCID is not set: with --launcher slurm every rank must be an srun task " +
                              "(run it as 'srun xtuner ...' inside an allocation, or use the local launcher).");
            int worldSize = env.Int("SLURM_NTASKS", min: 1);
            int rank = env.Int("SLURM_PROCID", min: 0);
            if (rank >= worldSize) throw Invalid($"SLURM_PROCID={rank} must be below SLURM_NTASKS={worldSize}.");
            int nodeRank = env.Int("SLURM_NODEID", min: 0);
            int localRank = env.Int("SLURM_LOCALID", min: 0);
            int localWorldSize = SlurmLocalWorldSize(env, nodeRank, worldSize);
            if (localRank >= localWorldSize)
                throw Invalid($"SLURM_LOCALID={localRank} must be below the {localWorldSize} tasks of node {nodeRank}.");
            if (worldSize == 1) return new RankEnvironment(0, 1, 0, 1, nodeRank, env.Get("MASTER_ADDR") ?? LoopbackAddress, 0, RankLauncher.Slurm);

            var masterAddress = env.Get("MASTER_ADDR") ?? FirstSlurmHost(env);
            int masterPort;
            if (env.Has("MASTER_PORT")) masterPort = env.Int("MASTER_PORT", min: 1, max: 65535);
            else if (env.Has("SLURM_JOB_ID")) masterPort = SlurmPortBase + (int)(env.Long("SLURM_JOB_ID", min: 0) % SlurmPortSpan);
            else throw Invalid("Neither MASTER_PORT nor SLURM_JOB_ID is set: set MASTER_PORT for the rendezvous.");
            return new RankEnvironment(rank, worldSize, localRank, localWorldSize, nodeRank, masterAddress, masterPort, RankLauncher.Slurm,
                env.Get(Launch.RunToken.Variable), env.Get(Launch.RunToken.BindAddressVariable));
        }

        private static int SlurmLocalWorldSize(LaunchVariables env, int nodeRank, int worldSize)
        {
            if (env.Has("SLURM_NTASKS_PER_NODE"))
            {
                int perNode = env.Int("SLURM_NTASKS_PER_NODE", min: 1);
                if (perNode > worldSize) throw Invalid($"SLURM_NTASKS_PER_NODE={perNode} must not exceed SLURM_NTASKS={worldSize}.");
                return perNode;
            }
            var text = env.Get("SLURM_TASKS_PER_NODE") ??
                       throw Invalid("Neither SLURM_NTASKS_PER_NODE nor SLURM_TASKS_PER_NODE is set: run the ranks through srun.");
            IReadOnlyList<int> counts;
            try
            {
                counts = SlurmNodeList.ExpandTasksPerNode(text);
            }
            catch (FormatException e)
            {
                throw Invalid($"SLURM_TASKS_PER_NODE='{text}' cannot be read: {e.Message}.");
            }
            int total = counts.Sum();
            if (total != worldSize)
                throw Invalid($"SLURM_TASKS_PER_NODE='{text}' adds up to {total} tasks but SLURM_NTASKS is {worldSize}.");
            if (nodeRank >= counts.Count)
                throw Invalid($"SLURM_NODEID={nodeRank} must be below the {counts.Count} nodes of SLURM_TASKS_PER_NODE='{text}'.");
            return counts[nodeRank];
        }

        // The step's nodes, not the job's: an srun step may use a subset of the allocation, and task 0 runs on the
        // step's first node under SLURM's default block distribution.
        private static string FirstSlurmHost(LaunchVariables env)
        {
            var name = env.Has("SLURM_STEP_NODELIST") ? "SLURM_STEP_NODELIST" : "SLURM_JOB_NODELIST";
            var list = env.Get(name) ??
                       throw Invalid("Neither MASTER_ADDR nor SLURM_STEP_NODELIST nor SLURM_JOB_NODELIST is set: set MASTER_ADDR to rank 0's host.");
            try
            {
                return SlurmNodeList.Expand(list)[0];
            }
            catch (FormatException e)
            {
                throw Invalid($"{name}='{list}' cannot be read ({e.Message}): set MASTER_ADDR to rank 0's host.");
            }
        }

        private static XTunerException Invalid(string message) => new XTunerException(ErrorIds.InvalidRankEnvironment, message);
    }
}
