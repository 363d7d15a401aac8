using System.Collections.Generic;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// A bias-free linear layer whose output is back-propagated but never read, as an autograd Function: forward only
    /// allocates the output (its values are undefined), backward is the linear's own (the input's gradient g W and the
    /// weight's g^T x). A checkpointed layer's recompute ends in such a layer, the MLP's down projection, whose output
    /// only its backward needs (<see cref="LayerContext.Recompute"/>): the recompute skips that matmul, a quarter of a
    /// Llama layer's.
    /// </summary>
    internal sealed class UnreadLinear : autograd.SingleTensorFunction<UnreadLinear>
    {
        public override string Name => nameof(UnreadLinear);

        /// <summary>[..., in] -> [..., out] of <paramref name="layer"/>, values undefined, gradients exact.</summary>
        public static Tensor Apply(Tensor input, LinearLayer layer)
        {
            var output = apply(input, layer.Weight);
            AutogradOutputCache.Release<UnreadLinear>();
            return output;
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var input = (Tensor)vars[0];
            var weight = (Tensor)vars[1];
            ctx.save_for_backward(new List<Tensor> { input, weight });
            return Output(input, weight.shape[0]);
        }

        /// <summary>An unread output of <paramref name="input"/> [..., in] with <paramref name="features"/> last: allocated, not computed.</summary>
        internal static Tensor Output(Tensor input, long features)
        {
            var shape = (long[])input.shape.Clone();
            shape[^1] = features;
            return empty(shape, input.dtype, input.device);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var (input, weight) = (saved[0], saved[1]);
            // As libtorch's linear backward: both products over the flattened rows.
            var rows = gradOutput.reshape(-1, weight.shape[0]);
            var gradInput = rows.mm(weight).view(input.shape);
            var gradWeight = rows.t().mm(input.reshape(-1, weight.shape[1]));
            gradOutput.Dispose();
            return AutogradHandoff.Return(new[] { gradInput, gradWeight });
        }
    }
}
