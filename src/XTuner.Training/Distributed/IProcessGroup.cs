using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// Collectives over a fixed set of ranks, as torch.distributed's process groups: every member calls the same
    /// collectives in the same order with tensors of the same shape and dtype; each call returns when this member's
    /// part is done (on CUDA, when the work is queued on the device's default stream, in order with TorchSharp's own
    /// kernels). Tensors may be non-contiguous; outputs must not overlap inputs. Collectives of one runtime must be
    /// issued from one thread at a time.
    /// </summary>
    public interface IProcessGroup : IDisposable
    {
        /// <summary>Short name for messages: <c>world</c>, <c>sp1</c>, <c>dp0</c>, ...</summary>
        string Name { get; }

        /// <summary>This process's index among the members (0 to <see cref="Size"/> - 1).</summary>
        int Rank { get; }

        int Size { get; }

        /// <summary>The global ranks of the members, in member order.</summary>
        IReadOnlyList<int> Ranks { get; }

        /// <summary>Combines <paramref name="tensor"/> over the members, in place, any shape.</summary>
        void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum);

        /// <summary>
        /// Concatenates every member's <paramref name="input"/> [n, ...] along dim 0 into <paramref name="output"/>
        /// [Size*n, ...], member order; <paramref name="output"/> may instead be stacked, [Size, n, ...].
        /// </summary>
        void AllGather(Tensor output, Tensor input);

        /// <summary>
        /// Combines the members' <paramref name="input"/> [Size*n, ...] and leaves chunk <see cref="Rank"/> of the
        /// result (rows [Rank*n, (Rank+1)*n)) in <paramref name="output"/> [n, ...]; <paramref name="input"/> may
        /// instead be stacked, [Size, n, ...].
        /// </summary>
        void ReduceScatter(Tensor output, Tensor input, ReduceOp op = ReduceOp.Sum);

        /// <summary>
        /// Equal splits along dim 0 (same shapes, dim 0 divisible by <see cref="Size"/>): chunk j of
        /// <paramref name="input"/> goes to member j; chunk i of <paramref name="output"/> came from member i.
        /// </summary>
        void AllToAll(Tensor output, Tensor input);

        /// <summary>Copies member <paramref name="rootMemberIndex"/>'s <paramref name="tensor"/> into every member's.</summary>
        void Broadcast(Tensor tensor, int rootMemberIndex);

        /// <summary>
        /// Returns when every member has arrived (on CUDA, after this member's queued device work has finished).
        /// </summary>
        /// <exception cref="XTuner.Core.XTunerException">Members missing at the timeout are named.</exception>
        void Barrier();
    }
}
