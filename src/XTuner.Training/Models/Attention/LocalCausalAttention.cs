using System;
using static TorchSharp.torch;

namespace XTuner.Training.Models.Attention
{
    /// <summary>
    /// Causal attention over the whole local sequence with libtorch's fused SDPA (flash attention on CUDA), scale
    /// 1/sqrt(D) as transformers uses. Key/value heads are repeated for grouped-query attention because TorchSharp's
    /// SDPA has no GQA flag.
    /// </summary>
    public sealed class LocalCausalAttention : IAttentionKernel
    {
        public Tensor Attend(Tensor q, Tensor k, Tensor v)
        {
            long queryHeads = q.shape[2], keyHeads = k.shape[2];
            if (keyHeads == 0 || queryHeads % keyHeads != 0 || v.shape[2] != keyHeads)
                throw new ArgumentException($"Query heads ({queryHeads}) must be a multiple of key/value heads ({keyHeads}, {v.shape[2]}).");
            using var scope = NewDisposeScope();
            var groups = queryHeads / keyHeads;
            // SDPA wants [B, H, S, D]; the transposes are views, and on CUDA the flash kernel returns its output laid
            // out as [B, S, H, D], so transposing back costs nothing either.
            var output = nn.functional.scaled_dot_product_attention(
                q.transpose(1, 2),
                KeyValueHeads.Repeat(k, groups).transpose(1, 2),
                KeyValueHeads.Repeat(v, groups).transpose(1, 2),
                is_casual: true);
            return output.transpose(1, 2).MoveToOuterDisposeScope();
        }
    }
}
