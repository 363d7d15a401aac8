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
        /// <summary>down(silu(gate(x)) * up(x)) for <paramref name="input"/> [B, S, H], over sequence tiles when asked.</summary>
        public static Tensor Apply(Tensor input, LinearLayer gate, LinearLayer up, LinearLayer down, MlpTiling tiling)
        {
            int tiles = tiling.For(input.shape[0] * input.shape[1], gate.Weight.shape[0], input.dtype);
            if (tiles == 1) return Whole(input, gate, up, down);
            if (is_grad_enabled() && input.requires_grad) return TiledSwiGlu.Apply(input, gate, up, down, tiles);
            using var noGrad = no_grad();
            return TiledSwiGlu.ForwardTiles(input, gate, up, down, tiles);
        }

        public static Tensor Whole(Tensor input, LinearLayer gate, LinearLayer up, LinearLayer down)
        {
            using var scope = NewDisposeScope();
            var gated = gate.forward(input);
            var upped = up.forward(input);
            var activated = FusedKernels.For(input.device) && SwiGluKernel.Supports(gated, upped)
                ? SwiGluKernel.Apply(gated, upped)
                : nn.functional.silu(gated).mul(upped);
            return down.forward(activated).MoveToOuterDisposeScope();
        }
    }
}
