using static TorchSharp.torch;

namespace XTuner.Training.Models.Attention
{
    /// <summary>
    /// Causal self-attention over heads that already carry RoPE. The decoder hands each rank's local chunk of the
    /// sequence to the kernel, so an implementation may exchange chunks with other ranks (sequence parallelism) as long
    /// as it returns this chunk's output.
    /// </summary>
    public interface IAttentionKernel
    {
        /// <summary>Attends <paramref name="q"/> [B, S, Hq, D] to <paramref name="k"/>, <paramref name="v"/> [B, S, Hkv, D]; returns [B, S, Hq, D].</summary>
        Tensor Attend(Tensor q, Tensor k, Tensor v);
    }
}
