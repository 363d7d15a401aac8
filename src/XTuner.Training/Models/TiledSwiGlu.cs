using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// The tiled MLP (ALST's TiledMLP) as one autograd Function: forward runs the SwiGLU over sequence tiles without
    /// autograd and joins their outputs; backward recomputes one tile at a time with autograd and takes its gradients
    /// before the next, so only one tile's [tokens, intermediate_size] tensors ever exist. Exact: tokens are independent
    /// rows. Parameter gradients of the tiles add up in float32 and join <c>.grad</c> once. Inside a checkpoint's recompute
    /// (whose output is only back-propagated) the forward computes nothing: the backward recomputes each tile anyway.
    /// </summary>
    internal sealed class TiledSwiGlu : autograd.SingleTensorFunction<TiledSwiGlu>
    {
        private const string PlanKey = "plan";

        public override string Name => nameof(TiledSwiGlu);

        /// <summary>The tiled MLP of <paramref name="input"/>; with <paramref name="outputUnread"/> the forward computes nothing (values undefined).</summary>
        public static Tensor Apply(Tensor input, LinearLayer gate, LinearLayer up, LinearLayer down, int tiles, bool outputUnread = false)
        {
            var output = apply(input, new Plan(gate, up, down, tiles, outputUnread));
            AutogradOutputCache.Release<TiledSwiGlu>();
            return output;
        }

        /// <summary>The forward over tiles of the sequence dimension (1) of [B, S, H], each released before the next.</summary>
        public static Tensor ForwardTiles(Tensor input, LinearLayer gate, LinearLayer up, LinearLayer down, int tiles)
        {
            using var scope = NewDisposeScope();
            var outputs = Tiles(input.shape[1], tiles).Select(t => SwiGlu.Whole(input.narrow(1, t.Start, t.Length), gate, up, down)).ToList();
            return cat(outputs, 1).MoveToOuterDisposeScope();
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var input = (Tensor)vars[0];
            var plan = (Plan)vars[1];
            ctx.save_for_backward(new List<Tensor> { input });
            ctx.save_data(PlanKey, plan);
            if (plan.OutputUnread) return UnreadLinear.Output(input, plan.Down.Weight.shape[0]);
            return ForwardTiles(input, plan.Gate, plan.Up, plan.Down, plan.Tiles);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            using var scope = NewDisposeScope();
            var input = ctx.get_saved_variables()[0];
            var plan = (Plan)ctx.get_data(PlanKey);
            var weights = new[] { plan.Gate.Weight, plan.Up.Weight, plan.Down.Weight };
            var sums = weights.Select(w => zeros(w.shape, ScalarType.Float32, w.device)).ToArray();
            var gradInput = empty_like(input);
            foreach (var (start, length) in Tiles(input.shape[1], plan.Tiles))
            {
                using var tileScope = NewDisposeScope();
                var x = input.narrow(1, start, length).detach().requires_grad_();
                IList<Tensor> grads;
                using (enable_grad())
                {
                    // y is only back-propagated: its down projection is not computed.
                    var y = SwiGlu.Whole(x, plan.Gate, plan.Up, plan.Down, outputUnread: true);
                    grads = autograd.grad(new[] { y }, new Tensor[] { x, weights[0], weights[1], weights[2] },
                        new[] { gradOutput.narrow(1, start, length) });
                }
                gradInput.narrow(1, start, length).copy_(grads[0]);
                for (int i = 0; i < weights.Length; i++) sums[i].add_(grads[i + 1]);
            }
            using (no_grad())
                for (int i = 0; i < weights.Length; i++)
                {
                    var w = weights[i];
                    if (w.grad is null) w.grad = sums[i].to(w.dtype).DetachFromDisposeScope();
                    else w.grad.add_(sums[i]);
                }
            gradOutput.Dispose();
            return AutogradHandoff.Return(new[] { gradInput, null });
        }

        /// <summary>[start, length) of <paramref name="tiles"/> near-equal tiles of <paramref name="length"/> tokens.</summary>
        internal static IEnumerable<(long Start, long Length)> Tiles(long length, int tiles)
        {
            long size = (length + tiles - 1) / tiles;
            for (long start = 0; start < length; start += size)
                yield return (start, System.Math.Min(size, length - start));
        }

        private sealed record Plan(LinearLayer Gate, LinearLayer Up, LinearLayer Down, int Tiles, bool OutputUnread);
    }
}
