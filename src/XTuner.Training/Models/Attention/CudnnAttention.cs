using System;
using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace XTuner.Training.Models.Attention
{
    /// <summary>
    /// libtorch's cuDNN attention, forward and backward called apart (TorchSharp binds neither op, so a TorchScript unit
    /// calls them): what SDPA runs for causal bf16 attention on Hopper, with the output's float32 log-sum-exp, which is
    /// what the backward needs besides q, k and v. A layer that keeps attention (<see cref="KeptAttention"/>) then keeps
    /// the output and the log-sum-exp only, and hands the backward the q, k and v its recompute makes: a quarter of what
    /// keeping attention's autograd graph holds (q, and k and v with their heads repeated).
    /// </summary>
    internal static class CudnnAttention
    {
        /// <summary>
        /// The ops' schemas as libtorch 2.10 and 2.11 have them. The backward takes undefined tensors for "no bias" and
        /// "not nested", which script cannot write; a one-query call of the forward returns one (its cum_seq_q).
        /// </summary>
        internal const string Script = @"
def attend(q: Tensor, k: Tensor, v: Tensor):
    r = torch._scaled_dot_product_cudnn_attention(q, k, v, None, True, 0.0, True, False)
    return r[0], r[1], r[6], r[7]

def attend_backward(g: Tensor, q: Tensor, k: Tensor, v: Tensor, o: Tensor, lse: Tensor, seed: Tensor, offset: Tensor):
    undefined = torch._scaled_dot_product_cudnn_attention(q.narrow(2, 0, 1), k.narrow(2, 0, 1), v.narrow(2, 0, 1), None, False, 0.0, True, False)[2]
    r = torch._scaled_dot_product_cudnn_attention_backward(g, q, k, v, o, lse, seed, offset, undefined, undefined, undefined, q.size(2), k.size(2), 0.0, True)
    return r[0], r[1], r[2]
";

        private static readonly Lazy<jit.CompilationUnit> Unit = new(() => jit.compile(Script));

        // Per shape, strides and dtype: whether SDPA's output is the direct call's, bit for bit (it picks its backend by both).
        private static readonly ConcurrentDictionary<string, bool> SdpaRunsCudnn = new();

        /// <summary>Called once with a line to show when SDPA runs another backend for a shape (kept attention then keeps its graph).</summary>
        internal static Action<string>? Note { get; set; }

        /// <summary>The compiled unit (a compile error ends the process, so tests compile it where libtorch may differ).</summary>
        internal static jit.CompilationUnit Compiled => Unit.Value;

        /// <summary>What the backward needs besides q, k and v; the tensors are this object's.</summary>
        internal sealed class Kept : IDisposable
        {
            public Kept(Tensor output, Tensor logSumExp, Tensor seed, Tensor offset)
            {
                Output = output.DetachFromDisposeScope();
                LogSumExp = logSumExp.DetachFromDisposeScope();
                Seed = seed.DetachFromDisposeScope();
                Offset = offset.DetachFromDisposeScope();
            }

            /// <summary>[B, H, S, D] as the op laid it out.</summary>
            public Tensor Output { get; }

            public Tensor LogSumExp { get; }

            public Tensor Seed { get; }

            public Tensor Offset { get; }

            public void Dispose()
            {
                foreach (var t in new[] { Output, LogSumExp, Seed, Offset }) t.Dispose();
            }
        }

        /// <summary>Tensors the op takes: bf16 or fp16 on CUDA.</summary>
        internal static bool Supports(Tensor q) =>
            q.device.type == TorchSharp.DeviceType.CUDA && (q.dtype == ScalarType.BFloat16 || q.dtype == ScalarType.Float16);

        /// <summary>
        /// Causal attention of <paramref name="q"/>, <paramref name="k"/>, <paramref name="v"/> ([B, H, S, D], as SDPA
        /// takes them, heads already repeated) without autograd, or null where SDPA would not give the same output for
        /// tensors of this shape (checked once per shape against SDPA itself, recording its graph as training does).
        /// </summary>
        internal static Kept? Attend(Tensor q, Tensor k, Tensor v)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (o, lse, seed, offset) = Compiled.invoke<(Tensor, Tensor, Tensor, Tensor)>("attend", q, k, v);
            var kept = new Kept(o, lse, seed, offset);
            string key = $"{string.Join("x", q.shape)}/{string.Join(",", q.stride())}|{string.Join("x", k.shape)}/{string.Join(",", k.stride())}|{q.dtype}";
            if (SdpaRunsCudnn.GetOrAdd(key, _ => SameAsSdpa(q, k, v, kept.Output))) return kept;
            kept.Dispose();
            return null;
        }

        /// <summary>
        /// Gradients into q, k and v (the recompute's, equal to the forward's) from <paramref name="gradOutput"/> [B, H, S, D]:
        /// the op SDPA's backward runs, on the same tensors.
        /// </summary>
        internal static (Tensor Query, Tensor Key, Tensor Value) Backward(Tensor gradOutput, Tensor q, Tensor k, Tensor v, Kept kept)
        {
            using var noGrad = no_grad();
            return Compiled.invoke<(Tensor, Tensor, Tensor)>("attend_backward", gradOutput, q, k, v, kept.Output, kept.LogSumExp, kept.Seed, kept.Offset);
        }

        private static bool SameAsSdpa(Tensor q, Tensor k, Tensor v, Tensor output)
        {
            using var scope = NewDisposeScope();
            bool same;
            using (enable_grad())
            {
                var (ql, kl, vl) = (q.detach().requires_grad_(), k.detach().requires_grad_(), v.detach().requires_grad_());
                same = nn.functional.scaled_dot_product_attention(ql, kl, vl, is_casual: true).detach().eq(output).all().item<bool>();
            }
            if (!same)
                Note?.Invoke($"attention: SDPA does not run cuDNN for q [{string.Join(", ", q.shape)}] {q.dtype} here; layers that keep attention keep its inputs as well as its output (more memory, the same numbers)");
            return same;
        }
    }
}
