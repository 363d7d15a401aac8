using XTuner.Training.Models.Attention;

namespace XTuner.Training.Models
{
    /// <summary>What every decoder layer of one forward shares besides its input.</summary>
    /// <param name="Rope">cos/sin for this forward's positions.</param>
    /// <param name="Attention">The attention kernel (local, or sequence-parallel around a local one).</param>
    /// <param name="Mlp">How the MLP is cut into sequence tiles.</param>
    internal sealed record LayerContext(RotaryTables Rope, IAttentionKernel Attention, MlpTiling Mlp);
}
