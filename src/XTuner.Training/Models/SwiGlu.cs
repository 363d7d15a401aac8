using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>The SwiGLU computation shared by the MLPs that name their projections differently.</summary>
    internal static class SwiGlu
    {
        public static Tensor Apply(Tensor input, LinearLayer gate, LinearLayer up, LinearLayer down)
        {
            using var scope = NewDisposeScope();
            var activated = nn.functional.silu(gate.forward(input)).mul(up.forward(input));
            return down.forward(activated).MoveToOuterDisposeScope();
        }
    }
}
