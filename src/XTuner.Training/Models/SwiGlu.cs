using XTuner.Training.Kernels;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// The SwiGLU computation shared by the MLPs that name their projections differently; silu(gate) * up is one
    /// <see cref="SwiGluKernel"/> pass with the fused kernels on CUDA.
    /// </summary>
    internal static class SwiGlu
    {
        /// <summary>
        /// down(silu(gate(x)) * up(x)) for <paramref name="input"/> [B, S, H], over sequence tiles when asked. With
        /// <paramref name="outputUnread"/> the output is only back-propagated (a checkpoint's recompute): down is not
        /// computed (<see cref="UnreadLinear"/>), and a tiled MLP, which recomputes its tiles in backward, computes nothing.
        /// </summary>
        public static Tensor Apply(Tensor input, LinearLayer gate, LinearLayer up, LinearLayer down, MlpTiling tiling, bool outputUnread = false)
        {
            int tiles = tiling.For(input.shape[0] * input.shape[1], gate.Weight.shape[0], input.dtype);
            bool grad = is_grad_enabled() && input.requires_grad;
            if (tiles == 1) return Whole(input, gate, up, down, outputUnread && grad);
            if (grad) return TiledSwiGlu.Apply(input, gate, up, down, tiles, outputUnread);
            using var noGrad = no_grad();
            return TiledSwiGlu.ForwardTiles(input, gate, up, down, tiles);
        }

        /// <summary>The whole MLP at once; with <paramref name="outputUnread"/> down's output is allocated, not computed.</summary>
        public static Tensor Whole(Tensor input, LinearLayer gate, LinearLayer up, LinearLayer down, bool outputUnread = false)
        {
            using var scope = NewDisposeScope();
            var gated = gate.forward(input);
            var upped = up.forward(input);
            var activated = FusedKernels.For(input.device) && SwiGluKernel.Supports(gated, upped)
                ? SwiGluKernel.Apply(gated, upped)
                : nn.functional.silu(gated).mul(upped);
            return (outputUnread ? UnreadLinear.Apply(activated, down) : down.forward(activated)).MoveToOuterDisposeScope();
        }
    }
}
