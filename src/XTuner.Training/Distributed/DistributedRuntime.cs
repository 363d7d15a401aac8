using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using XTuner.Core;
using XTuner.Core.Launch;
using static TorchSharp.torch;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// A rank's view of the distributed run, as torch.distributed's init_process_group: the rendezvous, the world
    /// group and the factory for sub-groups, on the backend the device calls for (NCCL for CUDA tensors, direct TCP
    /// for CPU tensors, TCP over pinned host copies for CUDA ranks that share a GPU, which NCCL refuses). A one-process world opens no socket at all. Disposing it ends the run for this rank: groups
    /// first, then the connections, then the store, which rank 0 keeps serving until the others are done with it.
    /// </summary>
    public sealed class DistributedRuntime : IDisposable
    {
        private readonly List<IProcessGroup> _groups = new List<IProcessGroup>();
        private readonly bool _communicatorForOneRank;
        private readonly bool _hostStaged;
        private readonly PeerMesh? _mesh;
        private int _nextGroupId;
        private bool _disposed;

        private DistributedRuntime(RankEnvironment environment, Device device, TimeSpan timeout, TcpStore? store, PeerMesh? mesh, bool communicatorForOneRank,
            bool hostStaged)
        {
            Environment = environment;
            Device = device;
            Timeout = timeout;
            Store = store;
            _mesh = mesh;
            _communicatorForOneRank = communicatorForOneRank;
            _hostStaged = hostStaged;
            World = null!;
        }

        public RankEnvironment Environment { get; }

        /// <summary>This rank's device: the CPU, or the CUDA device of its local rank.</summary>
        public Device Device { get; }

        /// <summary>How long a rendezvous, a group creation or a silent peer is waited for before it is an error.</summary>
        public TimeSpan Timeout { get; }

        /// <summary>The rendezvous store; null in a one-process world.</summary>
        public TcpStore? Store { get; }

        /// <summary>"nccl", "tcp", "tcp via host" (CUDA ranks sharing a GPU) or "local" (one process, no communication).</summary>
        public string Backend => World is LocalProcessGroup ? "local" : _hostStaged ? "tcp via host" : Device.type == DeviceType.CUDA ? "nccl" : "tcp";

        /// <summary>Every rank of the run.</summary>
        public IProcessGroup World { get; private set; }

        /// <summary>
        /// Joins the run: rank 0 starts the store, every rank connects and waits at the 'init' barrier for all the
        /// others, then the world group is created. <paramref name="communicatorForOneRank"/> (CUDA only) gives even
        /// groups of one member an NCCL communicator instead of the identity, so that NCCL can be verified on one GPU.
        /// <paramref name="log"/> hears what the rendezvous has to report: connections it closed, a missing secret
        /// (default: stderr, the rank's log). <paramref name="ranksPerGpu"/> (CUDA) ranks of a node share each GPU: local
        /// rank r runs on GPU r / ranksPerGpu, and above 1 the collectives go through host memory over TCP (also on the CPU).
        /// </summary>
        /// <exception cref="XTunerException">Ranks missing at the timeout (named), rank 0's port taken, no CUDA, no NCCL,
        /// a run across nodes without <see cref="RunToken.Variable"/>.</exception>
        public static DistributedRuntime Initialize(RankEnvironment env, DeviceType device, TimeSpan timeout, bool communicatorForOneRank = false,
            Action<string>? log = null, int ranksPerGpu = 1)
        {
            if (env == null) throw new ArgumentNullException(nameof(env));
            if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "the timeout must be positive");
            if (ranksPerGpu < 1) throw new ArgumentOutOfRangeException(nameof(ranksPerGpu), ranksPerGpu, "at least one rank per GPU");
            // On the CPU only check-collectives asks for it, to check the staging path without a GPU.
            bool hostStaged = ranksPerGpu > 1;
            var rankDevice = RankDevice(env, device, ranksPerGpu);
            TcpStore? store = null;
            PeerMesh? mesh = null;
            try
            {
                if (env.WorldSize > 1)
                {
                    log ??= Console.Error.WriteLine;
                    store = TcpStore.Connect(env, timeout, log);
                    if (device == DeviceType.CPU || hostStaged) mesh = new PeerMesh(store, env, timeout, log);
                    store.Barrier("init", timeout);
                }
                var runtime = new DistributedRuntime(env, rankDevice, timeout, store, mesh, communicatorForOneRank && device == DeviceType.CUDA, hostStaged);
                runtime.World = runtime.CreateGroup(Enumerable.Range(0, env.WorldSize).ToArray(), "world")!;
                return runtime;
            }
            catch
            {
                mesh?.Dispose();
                store?.Dispose();
                throw;
            }
        }

        /// <summary>
        /// A group of the given global ranks, in member order. As in torch.distributed, every rank must call this for
        /// every group, members or not, in the same order; a rank outside the group gets null. The runtime disposes
        /// the groups it made.
        /// </summary>
        public IProcessGroup? NewGroup(IReadOnlyList<int> ranks, string? name = null)
        {
            if (ranks == null) throw new ArgumentNullException(nameof(ranks));
            if (ranks.Count == 0) throw new ArgumentException("a group needs at least one rank", nameof(ranks));
            if (ranks.Distinct().Count() != ranks.Count) throw new ArgumentException($"ranks [{string.Join(",", ranks)}] repeat a rank", nameof(ranks));
            var outside = ranks.Where(r => r < 0 || r >= Environment.WorldSize).ToList();
            if (outside.Count > 0)
                throw new ArgumentException($"ranks {string.Join(", ", outside)} are not in the world of {Environment.WorldSize}", nameof(ranks));
            return CreateGroup(ranks.ToArray(), name);
        }

        /// <summary>
        /// This rank's SP and DP groups: every SP group, then every DP group, is created in layout order, on every
        /// rank. A group that spans the whole world is the world group itself (one NCCL communicator fewer).
        /// </summary>
        /// <exception cref="XTunerException">The layout is for another world size.</exception>
        public ParallelGroups ForLayout(ParallelLayout layout)
        {
            if (layout == null) throw new ArgumentNullException(nameof(layout));
            if (layout.WorldSize != Environment.WorldSize)
                throw new XTunerException(ErrorIds.InvalidWorldSize,
                    $"The parallel layout is for {layout.WorldSize} ranks but this run has {Environment.WorldSize}.");
            IProcessGroup? sp = null, dp = null;
            for (int i = 0; i < layout.SpGroups.Count; i++) sp = GroupOrWorld(layout.SpGroups[i], "sp" + i) ?? sp;
            for (int i = 0; i < layout.DpGroups.Count; i++) dp = GroupOrWorld(layout.DpGroups[i], "dp" + i) ?? dp;
            return new ParallelGroups(layout, sp!, dp!);
        }

        /// <summary>
        /// This rank's SP group of <paramref name="layout"/>, creating the SP groups only (every rank calls it; the whole
        /// world is reused when one group spans it). Training needs no DP communicators: gradients are reduced over the world.
        /// </summary>
        public IProcessGroup SequenceParallelGroup(ParallelLayout layout)
        {
            if (layout.WorldSize != Environment.WorldSize)
                throw new XTunerException(ErrorIds.InvalidWorldSize,
                    $"The parallel layout is for {layout.WorldSize} ranks but this run has {Environment.WorldSize}.");
            IProcessGroup? sp = null;
            for (int i = 0; i < layout.SpGroups.Count; i++) sp = GroupOrWorld(layout.SpGroups[i], "sp" + i) ?? sp;
            return sp!;
        }

        public void Dispose() => Close(abort: false);

        /// <summary>After a failure on this rank: closes everything at once so the other ranks fail now, not at their timeout.</summary>
        public void Abort() => Close(abort: true);

        private void Close(bool abort)
        {
            if (_disposed) return;
            _disposed = true;
            var errors = new List<Exception>();
            foreach (var group in _groups.AsEnumerable().Reverse())
                Attempt(group.Dispose, errors);
            if (_mesh != null) Attempt(_mesh.Dispose, errors);
            if (Store != null) Attempt(abort ? Store.Abort : Store.Dispose, errors);
            if (errors.Count > 0 && !abort) throw errors[0];
        }

        private static void Attempt(Action dispose, List<Exception> errors)
        {
            try
            {
                dispose();
            }
            catch (Exception e)
            {
                errors.Add(e);
            }
        }

        private IProcessGroup? GroupOrWorld(IReadOnlyList<int> ranks, string name) =>
            ranks.Count == Environment.WorldSize ? World : CreateGroup(ranks.ToArray(), name);

        private IProcessGroup? CreateGroup(int[] ranks, string? name)
        {
            int id = _nextGroupId++;
            int member = Array.IndexOf(ranks, Environment.Rank);
            if (member < 0) return null;
            name ??= "group" + id;
            IProcessGroup group;
            if (ranks.Length == 1 && !_communicatorForOneRank) group = new LocalProcessGroup(name, Environment.Rank, Device);
            else if (_hostStaged) group = new HostStagedProcessGroup(new TcpProcessGroup(name, ranks, member, id, _mesh!, Store!), Device);
            else if (Device.type == DeviceType.CUDA) group = NcclProcessGroup.Create(name, ranks, member, id, Device, Store);
            else group = new TcpProcessGroup(name, ranks, member, id, _mesh!, Store!);
            _groups.Add(group);
            return group;
        }

        private static string FirstLine(string text) => text.Split('\n')[0].Trim().TrimEnd('.', ':');

        private static Device RankDevice(RankEnvironment env, DeviceType device, int ranksPerGpu)
        {
            switch (device)
            {
                case DeviceType.CPU:
                    return torch.CPU;
                case DeviceType.CUDA:
                    try
                    {
                        torch.InitializeDeviceType(DeviceType.CUDA);
                    }
                    catch (InvalidOperationException e)
                    {
                        throw new XTunerException(ErrorIds.CudaUnavailable,
                            $"Rank {env.Rank} asked for CUDA, but libtorch's CUDA backend did not load ({FirstLine(e.Message)}): run with a CUDA " +
                            "libtorch (a CUDA PyTorch install or TorchSharp-cuda), or use --device cpu.", e);
                    }
                    if (!torch.cuda.is_available())
                        throw new XTunerException(ErrorIds.CudaUnavailable,
                            $"Rank {env.Rank} asked for CUDA, but libtorch sees no CUDA device: check the driver and CUDA_VISIBLE_DEVICES, or use --device cpu.");
                    return new Device(DeviceType.CUDA, env.CudaDeviceIndex(torch.cuda.device_count(), ranksPerGpu));
                default:
                    throw new ArgumentOutOfRangeException(nameof(device), device, "distributed runs use the CPU or CUDA");
            }
        }
    }
}
