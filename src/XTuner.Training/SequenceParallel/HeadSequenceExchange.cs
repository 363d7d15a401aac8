using System.Collections.Generic;
using XTuner.Training.Distributed;
using XTuner.Training.Models;
using static TorchSharp.torch;

namespace XTuner.Training.SequenceParallel
{
    /// <summary>
    /// The two Ulysses all-to-alls over an SP group of size sp. <see cref="ToFullSequence"/> turns this rank's chunk of
    /// every head, [B, S/sp, H, D], into every chunk of its own heads, [B, S, H/sp, D]; <see cref="ToLocalChunk"/> is
    /// its exact inverse. Member r of the group holds sequence chunk r and heads [r H/sp, (r+1) H/sp).
    /// </summary>
    public static class HeadSequenceExchange
    {
        public static Tensor ToFullSequence(Tensor x, IProcessGroup group)
        {
            long sp = group.Size, b = x.shape[0], s = x.shape[1], h = x.shape[2] / sp, d = x.shape[3];
            using var scope = NewDisposeScope();
            // [sp, B, s, h, D]: block j holds the heads member j will own.
            var send = x.reshape(b, s, sp, h, d).permute(2, 0, 1, 3, 4).contiguous();
            var received = empty_like(send);
            group.AllToAll(received, send);
            // Block i now holds sequence chunk i of our heads; chunks in member order are the sequence in order.
            return received.permute(1, 0, 2, 3, 4).reshape(b, sp * s, h, d).MoveToOuterDisposeScope();
        }

        public static Tensor ToLocalChunk(Tensor y, IProcessGroup group)
        {
            long sp = group.Size, b = y.shape[0], s = y.shape[1] / sp, h = y.shape[2], d = y.shape[3];
            using var scope = NewDisposeScope();
            // [sp, B, s, h, D]: block j is sequence chunk j, which member j keeps.
            var send = y.reshape(b, sp, s, h, d).permute(1, 0, 2, 3, 4).contiguous();
            var received = empty_like(send);
            group.AllToAll(received, send);
            // Block i holds member i's heads of our chunk: heads in member order.
            return received.permute(1, 2, 0, 3, 4).reshape(b, s, sp * h, d).MoveToOuterDisposeScope();
        }
    }

    /// <summary>Autograd wrapper of <see cref="HeadSequenceExchange.ToFullSequence"/>: backward is the inverse exchange.</summary>
    public sealed class GatherSequence : autograd.SingleTensorFunction<GatherSequence>
    {
        public override string Name => nameof(GatherSequence);

        public static Tensor Apply(Tensor x, IProcessGroup group)
        {
            var output = apply(x, group);
            AutogradOutputCache.Release<GatherSequence>();
            return output;
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var group = (IProcessGroup)vars[1];
            ctx.save_data("group", group);
            return HeadSequenceExchange.ToFullSequence((Tensor)vars[0], group);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var grad = HeadSequenceExchange.ToLocalChunk(gradOutput, (IProcessGroup)ctx.get_data("group"));
            gradOutput.Dispose();
            return AutogradHandoff.Return(new[] { grad, null });
        }
    }

    /// <summary>Autograd wrapper of <see cref="HeadSequenceExchange.ToLocalChunk"/>: backward is the inverse exchange.</summary>
    public sealed class ScatterSequence : autograd.SingleTensorFunction<ScatterSequence>
    {
        public override string Name => nameof(ScatterSequence);

        public static Tensor Apply(Tensor y, IProcessGroup group)
        {
            var output = apply(y, group);
            AutogradOutputCache.Release<ScatterSequence>();
            return output;
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var group = (IProcessGroup)vars[1];
            ctx.save_data("group", group);
            return HeadSequenceExchange.ToLocalChunk((Tensor)vars[0], group);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var grad = HeadSequenceExchange.ToFullSequence(gradOutput, (IProcessGroup)ctx.get_data("group"));
            gradOutput.Dispose();
            return AutogradHandoff.Return(new[] { grad, null });
        }
    }
}
