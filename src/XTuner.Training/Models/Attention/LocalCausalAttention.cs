using System;
using System.Collections.Generic;
using System.Linq;
using XTuner.Training.Kernels;
using static TorchSharp.torch;

namespace XTuner.Training.Models.Attention
{
    /// <summary>
    /// Causal attention over the whole local sequence with libtorch's fused SDPA (flash attention on CUDA), scale
    /// 1/sqrt(D) as transformers uses. Key/value heads are repeated for grouped-query attention because TorchSharp's
    /// SDPA has no GQA flag. Documents are batched by length into one SDPA call per length bucket (still flash: no
    /// mask; see <see cref="SegmentBuckets"/>), and a sliding window shorter than a segment runs in query blocks of the
    /// window's size whose keys reach back one window, with a small boolean block mask, so memory stays linear in the
    /// sequence length (no [S, S] mask).
    /// </summary>
    public sealed class LocalCausalAttention : IAttentionKernel
    {
        public Tensor Attend(Tensor q, Tensor k, Tensor v, AttentionMask mask)
        {
            using var scope = NewDisposeScope();
            var groups = Groups(q, k, v);
            k = KeyValueHeads.Repeat(k, groups);
            v = KeyValueHeads.Repeat(v, groups);
            if (mask.IsCausalOnly) return Causal(q, k, v).MoveToOuterDisposeScope();
            return Segmented(q, k, v, mask).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Causal attention without autograd that keeps only what its backward needs besides q, k and v (the output and
        /// its log-sum-exp, <see cref="CudnnAttention.Kept"/>), for <see cref="KeptAttention"/>; null where that cannot
        /// give what <see cref="Attend"/> gives: documents or a window, the fused kernels off, not bf16/fp16 on CUDA, or a
        /// shape SDPA runs another backend for. The output is [B, S, H, D] like <see cref="Attend"/>'s, a view of the kept one.
        /// </summary>
        internal (Tensor Output, CudnnAttention.Kept Kept)? AttendKeepingOutput(Tensor q, Tensor k, Tensor v, AttentionMask mask)
        {
            if (!mask.IsCausalOnly || !FusedKernels.For(q.device) || !CudnnAttention.Supports(q)) return null;
            using var scope = NewDisposeScope();
            var groups = Groups(q, k, v);
            var kept = CudnnAttention.Attend(q.transpose(1, 2), KeyValueHeads.Repeat(k, groups).transpose(1, 2), KeyValueHeads.Repeat(v, groups).transpose(1, 2));
            if (kept is null) return null;
            return (kept.Output.transpose(1, 2).MoveToOuterDisposeScope(), kept);
        }

        /// <summary>
        /// Gradients into <paramref name="q"/>, <paramref name="k"/> and <paramref name="v"/> ([B, S, H, D], the heads
        /// of k and v not repeated) of the output <see cref="AttendKeepingOutput"/> kept: the backward SDPA's autograd runs,
        /// on the tensors it would take, and the repeated heads' gradients summed into their key/value head.
        /// </summary>
        internal (Tensor Query, Tensor Key, Tensor Value) BackwardKeepingOutput(Tensor gradOutput, Tensor q, Tensor k, Tensor v, CudnnAttention.Kept kept)
        {
            using var scope = NewDisposeScope();
            var groups = Groups(q, k, v);
            var (dq, dk, dv) = CudnnAttention.Backward(gradOutput.transpose(1, 2), q.transpose(1, 2),
                KeyValueHeads.Repeat(k, groups).transpose(1, 2), KeyValueHeads.Repeat(v, groups).transpose(1, 2), kept);
            return (dq.transpose(1, 2).MoveToOuterDisposeScope(), KeyValueHeads.SumRepeated(dk.transpose(1, 2), groups).MoveToOuterDisposeScope(),
                KeyValueHeads.SumRepeated(dv.transpose(1, 2), groups).MoveToOuterDisposeScope());
        }

        private static long Groups(Tensor q, Tensor k, Tensor v)
        {
            long queryHeads = q.shape[2], keyHeads = k.shape[2];
            if (keyHeads == 0 || queryHeads % keyHeads != 0 || v.shape[2] != keyHeads)
                throw new ArgumentException($"Query heads ({queryHeads}) must be a multiple of key/value heads ({keyHeads}, {v.shape[2]}).");
            return queryHeads / keyHeads;
        }

        /// <summary>
        /// Documents and windows: segments of similar length batched into one causal SDPA call per bucket (gathered by
        /// index, so still flash and still no mask), segments longer than the window in window blocks, and every output
        /// put back in place through the inverse of the order they came out in.
        /// </summary>
        private static Tensor Segmented(Tensor q, Tensor k, Tensor v, AttentionMask mask)
        {
            long rows = q.shape[0], length = q.shape[1], heads = q.shape[2], dim = q.shape[3];
            var plan = mask.Documents?.Buckets(mask.Window) ?? SegmentBuckets.Plan(null, (int)rows, (int)length, mask.Window);
            var indices = DeviceIndices(plan.Indices, q.device);
            var (qf, kf, vf) = (q.reshape(rows * length, heads, dim), k.reshape(rows * length, heads, dim), v.reshape(rows * length, heads, dim));
            var outputs = new List<Tensor>();
            foreach (var bucket in plan.Buckets)
            {
                var gather = indices.narrow(0, bucket.GatherAt, bucket.Segments.Count * (long)bucket.Length);
                Tensor Padded(Tensor x) => x.index_select(0, gather).view(bucket.Segments.Count, bucket.Length, heads, dim);
                var attended = Causal(Padded(qf), Padded(kf), Padded(vf)).reshape(-1, heads, dim);
                outputs.Add(attended.index_select(0, indices.narrow(0, bucket.RealAt, bucket.Tokens)));
            }
            foreach (var (row, start, count) in plan.Windowed)
            {
                Tensor Slice(Tensor x) => x.narrow(0, row, 1).narrow(1, start, count);
                outputs.Add(Windowed(Slice(q), Slice(k), Slice(v), mask.Window!.Value).reshape(-1, heads, dim));
            }
            var all = outputs.Count == 1 ? outputs[0] : cat(outputs, 0);
            return all.index_select(0, indices.narrow(0, plan.InverseAt, rows * length)).view(rows, length, heads, dim);
        }

        /// <summary>The plan's indices on <paramref name="device"/>: on CUDA one asynchronous copy from pinned memory.</summary>
        private static Tensor DeviceIndices(long[] indices, Device device)
        {
            var host = tensor(indices);
            return device.type == TorchSharp.DeviceType.CUDA ? host.pin_memory().to(device, non_blocking: true) : host;
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
