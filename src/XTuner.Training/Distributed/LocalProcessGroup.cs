using TorchSharp;
using static TorchSharp.torch;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// A group of one member: every collective is the identity (or a copy into the output), with no sockets and no
    /// communicator. Used for a one-process world and for one-rank sub-groups (an SP or DP group of size 1).
    /// </summary>
    internal sealed class LocalProcessGroup : ProcessGroup
    {
        private readonly Device _device;

        public LocalProcessGroup(string name, int globalRank, Device device)
            : base(name, new[] { globalRank }, 0)
        {
            _device = device;
        }

        protected override DeviceType DeviceType => _device.type;

        public override void Dispose()
        {
        }

        // Sum, max and min of one value are that value, and so is the average (divided by 1).
        protected override void AllReduceCore(Tensor tensor, ReduceOp op)
        {
        }

        protected override void AllGatherCore(Tensor output, Tensor input) => output.copy_(input.reshape(output.shape));

        protected override void ReduceScatterCore(Tensor output, Tensor input, ReduceOp op) => output.copy_(input.reshape(output.shape));

        protected override void AllToAllCore(Tensor output, Tensor input) => output.copy_(input);

        protected override void BroadcastCore(Tensor tensor, int root)
        {
        }

        protected override void BarrierCore()
        {
            if (_device.type == DeviceType.CUDA) torch.cuda.synchronize(_device);
        }
    }
}
