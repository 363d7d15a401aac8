using System.Collections.Generic;
using System.Linq;
using XTuner.Training.Distributed;
using XTuner.Training.Models;
using static TorchSharp.torch;

namespace XTuner.Training.SequenceParallel
{
    /// <summary>
    /// The Ulysses all-to-all over an SP group of size sp, as one autograd Function: dimension <c>scatterDim</c> is cut
    /// into sp blocks and block j goes to member j; what arrives from the members is joined along <c>gatherDim</c> in
    /// member order. Its backward is the same exchange with the two dimensions swapped. With the sequence at dimension 1
    /// and heads at 2, (scatter 2, gather 1) turns this rank's chunk of every head, [B, S/sp, H, D], into the whole
    /// sequence of its H/sp heads, [B, S, H/sp, D], and (scatter 1, gather 2) goes back.
    /// </summary>
    public sealed class SequenceAllToAll : autograd.SingleTensorFunction<SequenceAllToAll>
    {
        public const int SequenceDim = 1;
        public const int HeadDim = 2;

        public override string Name => nameof(SequenceAllToAll);

        /// <summary>[B, S/sp, H, D] -> [B, S, H/sp, D]: this rank's chunk of every head for the whole sequence of its heads.</summary>
        public static Tensor ToFullSequence(Tensor x, IProcessGroup group) => Apply(x, group, HeadDim, SequenceDim);

        /// <summary>[B, S, H/sp, D] -> [B, S/sp, H, D]: the inverse of <see cref="ToFullSequence"/>.</summary>
        public static Tensor ToLocalChunk(Tensor y, IProcessGroup group) => Apply(y, group, SequenceDim, HeadDim);

        public static Tensor Apply(Tensor x, IProcessGroup group, int scatterDim, int gatherDim)
        {
            using var phase = Engine.StepPhases.Enter(Engine.StepPhases.AllToAll);
            var output = apply(x, group, scatterDim, gatherDim);
            AutogradOutputCache.Release<SequenceAllToAll>();
            return output;
        }

        /// <summary>The exchange itself, without autograd.</summary>
        public static Tensor Exchange(Tensor x, IProcessGroup group, int scatterDim, int gatherDim)
        {
            long sp = group.Size;
            using var scope = NewDisposeScope();
            // [sp, ...]: block j (along scatterDim) first, so that it is contiguous for member j.
            var shape = x.shape.ToList();
            shape[scatterDim] /= sp;
            shape.Insert(scatterDim, sp);
            var send = x.reshape(shape.ToArray()).permute(MoveToFront(shape.Count, scatterDim)).contiguous();
            var received = empty_like(send);
            group.AllToAll(received, send);
            // Block i came from member i: put the member axis just before gatherDim and merge the two.
            var order = MoveFromFront(received.ndim, gatherDim);
            var joined = received.permute(order);
            var outShape = joined.shape.ToList();
            outShape[gatherDim] *= outShape[gatherDim + 1];
            outShape.RemoveAt(gatherDim + 1);
            return joined.reshape(outShape.ToArray()).MoveToOuterDisposeScope();
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var group = (IProcessGroup)vars[1];
            int scatterDim = (int)vars[2], gatherDim = (int)vars[3];
            ctx.save_data("exchange", (group, scatterDim, gatherDim));
            return Exchange((Tensor)vars[0], group, scatterDim, gatherDim);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var (group, scatterDim, gatherDim) = ((IProcessGroup, int, int))ctx.get_data("exchange");
            var grad = Exchange(gradOutput, group, gatherDim, scatterDim);
            gradOutput.Dispose();
            return AutogradHandoff.Return(new[] { grad, null, null, null });
        }

        // [d0 .. d(n-1)] with dimension `dim` moved first.
        private static long[] MoveToFront(int rank, int dim) =>
            new long[] { dim }.Concat(Enumerable.Range(0, rank).Where(d => d != dim).Select(d => (long)d)).ToArray();

        // A tensor whose dimension 0 is the member axis, with that axis moved to position `dim`.
        private static long[] MoveFromFront(long rank, int dim) =>
            Enumerable.Range(1, (int)rank - 1).Select(d => (long)d).Take(dim).Append(0L)
                .Concat(Enumerable.Range(1, (int)rank - 1).Select(d => (long)d).Skip(dim)).ToArray();
    }
}
