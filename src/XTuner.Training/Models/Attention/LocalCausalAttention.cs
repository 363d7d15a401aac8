using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace XTuner.Training.Models.Attention
{
    /// <summary>
    /// Causal attention over the whole local sequence with libtorch's fused SDPA (flash attention on CUDA), scale
    /// 1/sqrt(D) as transformers uses. Key/value heads are repeated for grouped-query attention because TorchSharp's
    /// SDPA has no GQA flag. Documents are attended one slice at a time (still flash: no mask), and a sliding window in
    /// query blocks of the window's size whose keys reach back one window, with a small boolean block mask, so memory
    /// stays linear in the sequence length (no [S, S] mask).
    /// </summary>
    public sealed class LocalCausalAttention : IAttentionKernel
    {
        public Tensor Attend(Tensor q, Tensor k, Tensor v, AttentionMask mask)
        {
            long queryHeads = q.shape[2], keyHeads = k.shape[2];
            if (keyHeads == 0 || queryHeads % keyHeads != 0 || v.shape[2] != keyHeads)
                throw new ArgumentException($"Query heads ({queryHeads}) must be a multiple of key/value heads ({keyHeads}, {v.shape[2]}).");
            using var scope = NewDisposeScope();
            var groups = queryHeads / keyHeads;
            k = KeyValueHeads.Repeat(k, groups);
            v = KeyValueHeads.Repeat(v, groups);
            if (mask.IsCausalOnly) return Causal(q, k, v).MoveToOuterDisposeScope();
            var rows = new List<Tensor>();
            for (int b = 0; b < q.shape[0]; b++)
            {
                var segments = mask.Documents?.Segments(b) ?? new[] { (0, (int)q.shape[1]) };
                var outputs = segments.Select(s =>
                {
                    var (qs, ks, vs) = (q.narrow(0, b, 1).narrow(1, s.Item1, s.Item2), k.narrow(0, b, 1).narrow(1, s.Item1, s.Item2), v.narrow(0, b, 1).narrow(1, s.Item1, s.Item2));
                    return mask.Window is int w && w < s.Item2 ? Windowed(qs, ks, vs, w) : Causal(qs, ks, vs);
                }).ToList();
                rows.Add(outputs.Count == 1 ? outputs[0] : cat(outputs, 1));
            }
            return (rows.Count == 1 ? rows[0] : cat(rows, 0)).MoveToOuterDisposeScope();
        }

        // SDPA wants [B, H, S, D]; the transposes are views, and on CUDA the flash kernel returns its output laid out as
        // [B, S, H, D], so transposing back costs nothing either.
        private static Tensor Causal(Tensor q, Tensor k, Tensor v) =>
            nn.functional.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_casual: true).transpose(1, 2);

        /// <summary>Query blocks of <paramref name="window"/> tokens, each against the keys of its block and the window before it.</summary>
        private static Tensor Windowed(Tensor q, Tensor k, Tensor v, int window)
        {
            long n = q.shape[1];
            var blocks = new List<Tensor>();
            for (long start = 0; start < n; start += window)
            {
                long end = Math.Min(start + window, n), keysFrom = Math.Max(0, start - window + 1);
                var i = arange(start, end, device: q.device).unsqueeze(1);
                var j = arange(keysFrom, end, device: q.device).unsqueeze(0);
                var allowed = j.le(i).logical_and(j.gt(i - window));
                var output = nn.functional.scaled_dot_product_attention(
                    q.narrow(1, start, end - start).transpose(1, 2),
                    k.narrow(1, keysFrom, end - keysFrom).transpose(1, 2),
                    v.narrow(1, keysFrom, end - keysFrom).transpose(1, 2),
                    attn_mask: allowed);
                blocks.Add(output.transpose(1, 2));
            }
            return blocks.Count == 1 ? blocks[0] : cat(blocks, 1);
        }
    }
}
