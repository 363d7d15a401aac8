using System;
using System.Collections.Generic;
using System.Globalization;
using TorchSharp;
using XTuner.Core;
using static TorchSharp.torch;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// The CUDA backend: one NCCL communicator per group, bound to this rank's GPU.
    /// </summary>
    /// <remarks>
    /// Streams. TorchSharp has no stream API: every kernel it launches goes to libtorch's current stream, which is
    /// never changed and so is the device's default stream, the legacy NULL stream (libtorch is not built for
    /// per-thread default streams). Every NCCL call here passes stream 0, that same stream. Hence (1) a collective
    /// starts only after the kernels that produced its input; (2) kernels TorchSharp launches afterwards see its
    /// output, with no event or synchronisation of ours; (3) a temporary freed right after a call (a contiguous copy,
    /// a dispose scope ending) is safe: libtorch's caching allocator hands a freed block only to later work on the
    /// same stream, which runs after the collective. The host does not wait: reading a result on the host
    /// (<c>cpu()</c>, <c>item()</c>) or <see cref="IProcessGroup.Barrier"/> does, through that stream.
    /// </remarks>
    internal sealed unsafe class NcclProcessGroup : ProcessGroup
    {
        private static readonly IntPtr DefaultStream = IntPtr.Zero;

        private readonly NcclLibrary _nccl;
        private readonly Device _device;
        private readonly TcpStore? _store;
        private readonly BarrierSequence? _barriers;
        private IntPtr _comm;

        private NcclProcessGroup(string name, IReadOnlyList<int> ranks, int rank, int groupId, Device device, TcpStore? store,
            NcclLibrary nccl, IntPtr comm)
            : base(name, ranks, rank)
        {
            _nccl = nccl;
            _device = device;
            _store = store;
            _comm = comm;
            if (store != null) _barriers = new BarrierSequence(store, "group" + groupId.ToString(CultureInfo.InvariantCulture) + "/", ranks);
        }

        /// <summary>
        /// Creates the communicator: member 0 makes the NCCL unique id and publishes it in the store, the others read
        /// it, and all join with ncclCommInitRank on <paramref name="device"/>. <paramref name="store"/> may be null
        /// only for a group of one.
        /// </summary>
        public static NcclProcessGroup Create(string name, IReadOnlyList<int> ranks, int rank, int groupId, Device device, TcpStore? store)
        {
            var nccl = NcclLibrary.Instance;
            var key = $"group{groupId.ToString(CultureInfo.InvariantCulture)}/nccl-id";
            NcclUniqueId id;
            if (rank == 0)
            {
                nccl.Check(nccl.GetUniqueId(&id), "ncclGetUniqueId", IntPtr.Zero);
                if (ranks.Count > 1) RequireStore(store).Set(key, id.ToArray());
            }
            else
            {
                var waiting = RequireStore(store);
                try
                {
                    id = NcclUniqueId.FromArray(waiting.Get(key));
                }
                catch (XTunerException e) when (e.ErrorId == ErrorIds.RendezvousTimeout)
                {
                    throw new XTunerException(ErrorIds.RendezvousTimeout,
                        $"rank {ranks[0]} (member 0 of group {name}) did not create the group's NCCL communicator within " +
                        $"{SocketExtensions.Seconds(waiting.Timeout)}: it may have failed or be stuck; its log says why.", e);
                }
            }
            CudaDriver.SetCurrentDevice(device.index);
            IntPtr comm;
            nccl.Check(nccl.CommInitRank(&comm, ranks.Count, id, rank), $"ncclCommInitRank for group {name} ({ranks.Count} ranks, member {rank})", IntPtr.Zero);
            return new NcclProcessGroup(name, ranks, rank, groupId, device, store, nccl, comm);
        }

        protected override DeviceType DeviceType => DeviceType.CUDA;

        protected override void CheckSupported(Tensor tensor, string parameter, string operation)
        {
            if (tensor.device_index != _device.index)
                throw new ArgumentException($"{operation} on group {Description}: {parameter} is on {tensor.device}, but this rank's " +
                                            $"communicator is on {_device}.", parameter);
            DataType(tensor);
        }

        public override void Dispose()
        {
            if (_comm == IntPtr.Zero) return;
            var comm = _comm;
            _comm = IntPtr.Zero;
            // Abort after a failure: a destroy would wait for work that a dead peer will never finish.
            if (Failed) _nccl.CommAbort(comm);
            else _nccl.Check(_nccl.CommDestroy(comm), "ncclCommDestroy", IntPtr.Zero);
        }

        protected override void AllReduceCore(Tensor tensor, ReduceOp op)
        {
            var work = tensor.is_contiguous() ? tensor : tensor.contiguous();
            var data = TensorMemory.Pointer(work);
            Check(_nccl.AllReduce(data, data, (nuint)work.numel(), DataType(work), RedOp(op), Comm, DefaultStream), "ncclAllReduce");
            if (!ReferenceEquals(work, tensor)) tensor.copy_(work);
        }

        protected override void AllGatherCore(Tensor output, Tensor input)
        {
            var source = input.is_contiguous() ? input : input.contiguous();
            var target = output.is_contiguous() ? output : torch.empty(output.shape, output.dtype, _device);
            Check(_nccl.AllGather(TensorMemory.Pointer(source), TensorMemory.Pointer(target), (nuint)source.numel(), DataType(source), Comm, DefaultStream),
                "ncclAllGather");
            if (!ReferenceEquals(target, output)) output.copy_(target);
        }

        protected override void ReduceScatterCore(Tensor output, Tensor input, ReduceOp op)
        {
            var source = input.is_contiguous() ? input : input.contiguous();
            var target = output.is_contiguous() ? output : torch.empty(output.shape, output.dtype, _device);
            Check(_nccl.ReduceScatter(TensorMemory.Pointer(source), TensorMemory.Pointer(target), (nuint)target.numel(), DataType(source), RedOp(op),
                Comm, DefaultStream), "ncclReduceScatter");
            if (!ReferenceEquals(target, output)) output.copy_(target);
        }

        /// <summary>NCCL has no all-to-all: one send and one receive per member (itself included) inside one group call.</summary>
        protected override void AllToAllCore(Tensor output, Tensor input)
        {
            var source = input.is_contiguous() ? input : input.contiguous();
            var target = output.is_contiguous() ? output : torch.empty(output.shape, output.dtype, _device);
            long count = source.numel() / Size;
            long chunkBytes = count * source.element_size();
            IntPtr from = TensorMemory.Pointer(source), to = TensorMemory.Pointer(target);
            int dataType = DataType(source);
            Check(_nccl.GroupStart(), "ncclGroupStart");
            int failed = NcclLibrary.Success;
            string failedCall = "";
            for (int member = 0; member < Size; member++)
            {
                failed = _nccl.Send(from + (nint)(member * chunkBytes), (nuint)count, dataType, member, Comm, DefaultStream);
                failedCall = $"ncclSend to member {member}";
                if (failed != NcclLibrary.Success) break;
                failed = _nccl.Recv(to + (nint)(member * chunkBytes), (nuint)count, dataType, member, Comm, DefaultStream);
                failedCall = $"ncclRecv from member {member}";
                if (failed != NcclLibrary.Success) break;
            }
            // The group must be closed even when a call inside it failed, or NCCL stays in group mode.
            int ended = _nccl.GroupEnd();
            Check(failed, failedCall);
            Check(ended, "ncclGroupEnd (all_to_all)");
            if (!ReferenceEquals(target, output)) output.copy_(target);
        }

        protected override void BroadcastCore(Tensor tensor, int root)
        {
            var work = tensor.is_contiguous() ? tensor : tensor.contiguous();
            var data = TensorMemory.Pointer(work);
            Check(_nccl.Broadcast(data, data, (nuint)work.numel(), DataType(work), root, Comm, DefaultStream), "ncclBroadcast");
            if (!ReferenceEquals(work, tensor) && Rank != root) tensor.copy_(work);
        }

        /// <summary>Waits for this rank's queued GPU work, surfaces any error NCCL recorded meanwhile, then meets the others in the store.</summary>
        protected override void BarrierCore()
        {
            torch.cuda.synchronize(_device);
            int asyncError;
            Check(_nccl.CommGetAsyncError(Comm, &asyncError), "ncclCommGetAsyncError");
            Check(asyncError, "a queued collective");
            if (Size > 1) _barriers!.Pass(RequireStore(_store).Timeout);
        }

        private IntPtr Comm => _comm != IntPtr.Zero ? _comm : throw new ObjectDisposedException($"process group {Description}");

        private void Check(int result, string call) => _nccl.Check(result, $"{call} on group {Description}", _comm);

        private static TcpStore RequireStore(TcpStore? store) =>
            store ?? throw new InvalidOperationException("an NCCL group of several ranks needs the rendezvous store");

        private static int DataType(Tensor tensor) => tensor.dtype switch
        {
            ScalarType.Int8 => 0,
            ScalarType.Byte => 1,
            ScalarType.Int32 => 2,
            ScalarType.Int64 => 4,
            ScalarType.Float16 => 6,
            ScalarType.Float32 => 7,
            ScalarType.Float64 => 8,
            ScalarType.BFloat16 => 9,
            _ => throw new ArgumentException($"NCCL cannot communicate {tensor.dtype} tensors; use float32, float64, bfloat16, float16, int64, int32, int8 or uint8.", nameof(tensor)),
        };

        private static int RedOp(ReduceOp op) => op switch
        {
            ReduceOp.Sum => 0,
            ReduceOp.Max => 2,
            ReduceOp.Min => 3,
            ReduceOp.Avg => 4,
            _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
        };
    }
}
