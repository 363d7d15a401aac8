using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using XTuner.Core;
using static TorchSharp.torch;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// What every backend shares: argument checks (shapes, dtypes, devices) with messages that say which collective
    /// and group, empty tensors answered without communication (every member has the same shapes, so all skip
    /// alike), autograd kept out of the way, temporaries freed, and a group that failed once refusing further work
    /// (its connections or communicator are in an unknown state). Backends implement the Core methods on tensors that
    /// passed the checks.
    /// </summary>
    internal abstract class ProcessGroup : IProcessGroup
    {
        private XTunerException? _failure;

        protected ProcessGroup(string name, IReadOnlyList<int> ranks, int rank)
        {
            Name = name;
            Ranks = ranks;
            Rank = rank;
        }

        public string Name { get; }

        public int Rank { get; }

        public int Size => Ranks.Count;

        public IReadOnlyList<int> Ranks { get; }

        /// <summary>"world[0,1,2,3]": the name and the members, for messages.</summary>
        public string Description => $"{Name}[{string.Join(",", Ranks)}]";

        protected abstract DeviceType DeviceType { get; }

        public void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
        {
            CheckTensor(tensor, nameof(tensor), "all_reduce");
            Run("all_reduce", tensor.numel(), () => AllReduceCore(tensor, op));
        }

        public void AllGather(Tensor output, Tensor input)
        {
            CheckTensor(output, nameof(output), "all_gather");
            CheckTensor(input, nameof(input), "all_gather");
            CheckPair(output, input, "all_gather");
            if (!IsGathered(output.shape, input.shape))
                throw new ArgumentException($"all_gather on group {Description}: output {Shape(output)} must be [{Size}*n, ...] or " +
                                            $"[{Size}, n, ...] for input {Shape(input)}.", nameof(output));
            Run("all_gather", input.numel(), () => AllGatherCore(output, input));
        }

        public void ReduceScatter(Tensor output, Tensor input, ReduceOp op = ReduceOp.Sum)
        {
            CheckTensor(output, nameof(output), "reduce_scatter");
            CheckTensor(input, nameof(input), "reduce_scatter");
            CheckPair(output, input, "reduce_scatter");
            if (!IsGathered(input.shape, output.shape))
                throw new ArgumentException($"reduce_scatter on group {Description}: input {Shape(input)} must be [{Size}*n, ...] or " +
                                            $"[{Size}, n, ...] for output {Shape(output)}.", nameof(input));
            Run("reduce_scatter", output.numel(), () => ReduceScatterCore(output, input, op));
        }

        public void AllToAll(Tensor output, Tensor input)
        {
            CheckTensor(output, nameof(output), "all_to_all");
            CheckTensor(input, nameof(input), "all_to_all");
            CheckPair(output, input, "all_to_all");
            if (!output.shape.SequenceEqual(input.shape) || input.dim() == 0 || input.shape[0] % Size != 0)
                throw new ArgumentException($"all_to_all on group {Description}: output {Shape(output)} and input {Shape(input)} must have " +
                                            $"the same shape, with dim 0 divisible by the group size {Size}.", nameof(output));
            Run("all_to_all", input.numel(), () => AllToAllCore(output, input));
        }

        public void Broadcast(Tensor tensor, int rootMemberIndex)
        {
            CheckTensor(tensor, nameof(tensor), "broadcast");
            if (rootMemberIndex < 0 || rootMemberIndex >= Size)
                throw new ArgumentOutOfRangeException(nameof(rootMemberIndex), rootMemberIndex,
                    $"broadcast on group {Description}: the root is a member index, 0 to {Size - 1}.");
            Run("broadcast", tensor.numel(), () => BroadcastCore(tensor, rootMemberIndex));
        }

        public void Barrier() => Run("barrier", 1, BarrierCore);

        public abstract void Dispose();

        protected abstract void AllReduceCore(Tensor tensor, ReduceOp op);

        protected abstract void AllGatherCore(Tensor output, Tensor input);

        protected abstract void ReduceScatterCore(Tensor output, Tensor input, ReduceOp op);

        protected abstract void AllToAllCore(Tensor output, Tensor input);

        protected abstract void BroadcastCore(Tensor tensor, int root);

        protected abstract void BarrierCore();

        /// <summary>True once a collective of this group has failed; backends then clean up harder (NCCL aborts).</summary>
        protected bool Failed => _failure != null;

        /// <summary>
        /// Runs one collective: no autograd (collectives write tensors in place, parameters among them), temporaries
        /// freed on return, and a failure remembered so that later calls fail at once with the first cause instead
        /// of talking over connections left mid-message.
        /// </summary>
        private void Run(string operation, long elements, Action body)
        {
            if (_failure != null)
                throw new XTunerException(_failure.ErrorId, $"Group {Description} failed earlier and cannot run {operation}: {_failure.Message}", _failure);
            if (elements == 0) return;
            try
            {
                using var noGrad = torch.no_grad();
                using var scope = torch.NewDisposeScope();
                body();
            }
            catch (Exception e)
            {
                var failure = Explain(e as XTunerException ?? new XTunerException(ErrorIds.CollectiveFailed, $"{operation} on group {Description} failed: {e.Message}", e));
                _failure = failure;
                OnFailure(failure);
                if (ReferenceEquals(failure, e)) throw;
                throw failure;
            }
        }

        /// <summary>Adds what a backend knows about a failure's cause.</summary>
        protected virtual XTunerException Explain(XTunerException failure) => failure;

        /// <summary>Called once a collective failed: release whatever a peer might still be blocked on.</summary>
        protected virtual void OnFailure(XTunerException failure)
        {
        }

        protected string Operation(string name) => $"{name} on group {Description}";

        private void CheckTensor(Tensor tensor, string parameter, string operation)
        {
            if (tensor is null) throw new ArgumentNullException(parameter);
            if (tensor.device_type != DeviceType)
                throw new ArgumentException($"{operation} on group {Description}: {parameter} is on {tensor.device}, but this group " +
                                            $"communicates {DeviceType} tensors.", parameter);
            CheckSupported(tensor, parameter, operation);
        }

        /// <summary>Backends bound to one device index, or to fewer dtypes, check it here, before anything is sent.</summary>
        protected virtual void CheckSupported(Tensor tensor, string parameter, string operation)
        {
        }

        private void CheckPair(Tensor output, Tensor input, string operation)
        {
            if (output.dtype != input.dtype)
                throw new ArgumentException($"{operation} on group {Description}: output is {output.dtype} but input is {input.dtype}.", nameof(output));
        }

        // [Size*n, rest...] or [Size, n, rest...] around [n, rest...].
        private bool IsGathered(long[] whole, long[] part)
        {
            if (part.Length == 0) return whole.Length == 1 && whole[0] == Size;
            if (whole.Length == part.Length)
                return whole[0] == Size * part[0] && whole.Skip(1).SequenceEqual(part.Skip(1));
            return whole.Length == part.Length + 1 && whole[0] == Size && whole.Skip(1).SequenceEqual(part);
        }

        private static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
    }
}
