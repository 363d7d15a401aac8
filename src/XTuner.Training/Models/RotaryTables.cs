using XTuner.Core.Models;
using XTuner.Training.Kernels;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// cos/sin for one forward, [B, S, 1, D] in the model's dtype, computed once from the position ids and shared by
    /// every layer.
    /// </summary>
    internal sealed class RotaryTables
    {
        public RotaryTables(Tensor cos, Tensor sin, RotaryLayout layout)
        {
            Cos = cos;
            Sin = sin;
            Layout = layout;
        }

        public Tensor Cos { get; }

        public Tensor Sin { get; }

        public RotaryLayout Layout { get; }

        /// <summary>
        /// Rotates <paramref name="x"/> [B, S, H, D]: x * cos + rotate(x) * sin, as transformers does; with the fused
        /// kernels on, the half-split layout in one pass (<see cref="RotaryKernel"/>, the same numbers).
        /// </summary>
        public Tensor Apply(Tensor x)
        {
            if (Layout == RotaryLayout.HalfSplit && FusedKernels.For(x.device) && RotaryKernel.Supports(x, Cos, Sin))
                return RotaryKernel.Apply(x, Cos, Sin);
            return Ops(x);
        }

        /// <summary>The TorchSharp ops of <see cref="Apply"/> (the path without the kernel, and its reference in the checks).</summary>
        internal Tensor Ops(Tensor x)
        {
            using var scope = NewDisposeScope();
            Tensor rotated;
            if (Layout == RotaryLayout.HalfSplit)
            {
                var half = x.shape[^1] / 2;
                rotated = cat(new[] { x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half) }, -1);
                return Combine(x, rotated).MoveToOuterDisposeScope();
            }

            // Cohere rotates in float32 and casts back.
            var input = x.to(ScalarType.Float32);
            var s = input.shape;
            var pairs = input.reshape(s[0], s[1], s[2], s[3] / 2, 2);
            rotated = stack(new[] { pairs.select(-1, 1).neg(), pairs.select(-1, 0) }, -1).reshape(s);
            return Combine(input, rotated).to(x.dtype).MoveToOuterDisposeScope();
        }

        private Tensor Combine(Tensor x, Tensor rotated)
        {
            var output = x.mul(Cos);
            return output.add_(rotated.mul_(Sin));
        }
    }
}
