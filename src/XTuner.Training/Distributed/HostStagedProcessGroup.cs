using TorchSharp;
using static TorchSharp.torch;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// Collectives of CUDA tensors for ranks that share a GPU (ranks_per_gpu > 1), where NCCL refuses to run: each
    /// tensor is copied into pinned host memory, the TCP backend combines the host copies, and the result is copied
    /// back. Slower than NCCL by two device-host copies and the TCP ring, but the same bytes reach the same
    /// reductions, so a layout tried on one GPU computes what it computes on many. Over CPU tensors it stages through
    /// plain host copies, which lets the CPU suite check the staging itself.
    /// </summary>
    internal sealed class HostStagedProcessGroup : ProcessGroup
    {
        private readonly TcpProcessGroup _host;
        private readonly Device _device;

        public HostStagedProcessGroup(TcpProcessGroup host, Device device)
            : base(host.Name, host.Ranks, host.Rank)
        {
            _host = host;
            _device = device;
        }

        protected override DeviceType DeviceType => _device.type;

        public override void Dispose() => _host.Dispose();

        protected override void AllReduceCore(Tensor tensor, ReduceOp op)
        {
            var staged = ToHost(tensor);
            _host.AllReduce(staged, op);
            tensor.copy_(staged);
        }

        protected override void AllGatherCore(Tensor output, Tensor input)
        {
            var staged = HostLike(output);
            _host.AllGather(staged, ToHost(input));
            output.copy_(staged);
        }

        protected override void ReduceScatterCore(Tensor output, Tensor input, ReduceOp op)
        {
            var staged = HostLike(output);
            _host.ReduceScatter(staged, ToHost(input), op);
            output.copy_(staged);
        }

        protected override void AllToAllCore(Tensor output, Tensor input)
        {
            var staged = HostLike(output);
            _host.AllToAll(staged, ToHost(input));
            output.copy_(staged);
        }

        protected override void BroadcastCore(Tensor tensor, int root)
        {
            var staged = ToHost(tensor);
            _host.Broadcast(staged, root);
            tensor.copy_(staged);
        }

        protected override void BarrierCore()
        {
            // The contract: a barrier returns after this member's queued device work has finished.
            if (_device.type == DeviceType.CUDA) torch.cuda.synchronize(_device);
            _host.Barrier();
        }

        /// <summary>A pinned host copy of <paramref name="tensor"/> (libtorch's host allocator caches the pinned blocks).</summary>
        private Tensor ToHost(Tensor tensor)
        {
            var staged = HostLike(tensor);
            staged.copy_(tensor);
            return staged;
        }

        private Tensor HostLike(Tensor tensor)
        {
            var host = empty(tensor.shape, tensor.dtype, CPU);
            return _device.type == DeviceType.CUDA ? host.pin_memory() : host;
        }
    }
}
