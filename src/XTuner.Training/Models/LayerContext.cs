using XTuner.Training.Models.Attention;

namespace XTuner.Training.Models
{
    /// <summary>What every decoder layer of one forward shares besides its input.</summary>
    /// <param name="Rope">cos/sin for this forward's positions.</param>
    /// <param name="Attention">The attention kernel (local, or sequence-parallel around a local one).</param>
    /// <param name="Mlp">How the MLP is cut into sequence tiles.</param>
    /// <param name="Mask">What attention may see besides causality: the documents, and this layer's window.</param>
    /// <param name="Kept">This layer's attention kept from its checkpointed forward for its recompute (recompute_attention); null attends anew.</param>
    /// <param name="Recompute">
    /// This forward is a checkpointed layer's recompute: its output is back-propagated, never read, so the MLP's down
    /// projection is not computed (<see cref="UnreadLinear"/>), nor a tiled MLP's forward, whose backward recomputes its tiles.
    /// </param>
    internal sealed record LayerContext(RotaryTables Rope, IAttentionKernel Attention, MlpTiling Mlp, AttentionMask Mask, KeptAttention? Kept = null,
        bool Recompute = false);
}
