using System.Collections.Generic;
using static TorchSharp.torch;

namespace XTuner.Training.Models.Attention
{
    /// <summary>
    /// Attention of one checkpointed layer that is not rerun in backward (<c>recompute_attention</c>): the checkpoint's
    /// forward, which otherwise records nothing, records the attention kernel's autograd graph from q, k and v and keeps
    /// it with its output; the recompute then takes that output in place of attending again (<see cref="Replay"/>), and
    /// its backward runs the kept graph into the recomputed q, k and v. The values are the same as rerunning attention
    /// (the recompute's q, k and v equal the forward's), so the gradients are too; what it costs is the memory the kernel
    /// keeps for backward (q, k and v as it takes them, the output and its log-sum-exp) from a layer's forward to its backward.
    /// Where the kernel can keep its output alone (<see cref="LocalCausalAttention.AttendKeepingOutput"/>: cuDNN's
    /// attention, what SDPA runs for causal bf16 on CUDA), that is all that waits, and the backward takes the recompute's
    /// q, k and v instead.
    /// </summary>
    internal sealed class KeptAttention
    {
        private Tensor? _query, _key, _value, _output;
        private LocalCausalAttention? _local;
        private CudnnAttention.Kept? _kept;

        /// <summary>
        /// First call (the checkpoint's forward): attends with autograd from <paramref name="query"/>, <paramref name="key"/>
        /// and <paramref name="value"/> as leaves, keeps that graph and returns the output without history. Second call
        /// (the recompute): the kept output, through a node whose backward runs the kept graph.
        /// </summary>
        public Tensor Attend(IAttentionKernel kernel, Tensor query, Tensor key, Tensor value, AttentionMask mask)
        {
            if (_output is null && _kept is null)
            {
                if (kernel is LocalCausalAttention local && local.AttendKeepingOutput(query, key, value, mask) is var (attended, kept))
                {
                    (_local, _kept) = (local, kept);
                    return attended;
                }
                var (q, k, v) = (Leaf(query), Leaf(key), Leaf(value));
                Tensor output;
                using (enable_grad())
                    output = kernel.Attend(q, k, v, mask);
                (_query, _key, _value, _output) = (q.DetachFromDisposeScope(), k.DetachFromDisposeScope(), v.DetachFromDisposeScope(), output.DetachFromDisposeScope());
                return output.detach();
            }
            var replayed = Replay.apply(query, key, value, this);
            AutogradOutputCache.Release<Replay>();
            return replayed;
        }

        /// <summary>The forward kept cuDNN's output and log-sum-exp alone (not an autograd graph).</summary>
        internal bool KeepsOutputOnly => _kept is not null;

        private static Tensor Leaf(Tensor t) => t.detach().requires_grad_();

        /// <summary>
        /// Gradients of the kept output into q, k and v (the recompute's): from the kept output alone, or by running the
        /// kept graph once; then what was kept goes. Timed as attention (the one part of the backward's attention that
        /// runs outside libtorch's engine, so --phases can show it).
        /// </summary>
        private List<Tensor> Backward(Tensor gradOutput, Tensor query, Tensor key, Tensor value)
        {
            using var phase = Engine.StepPhases.Enter(Engine.StepPhases.Attention);
            if (_kept is CudnnAttention.Kept kept)
            {
                _kept = null;
                var (dq, dk, dv) = _local!.BackwardKeepingOutput(gradOutput, query, key, value, kept);
                kept.Dispose();
                return AutogradHandoff.Return(new[] { dq, dk, dv, null });
            }
            var (q, k, v, output) = (_query!, _key!, _value!, _output!);
            (_query, _key, _value, _output) = (null, null, null, null);
            output.backward(new[] { gradOutput });
            var gradients = AutogradHandoff.Return(new[] { q.grad, k.grad, v.grad, null });
            foreach (var t in new[] { q, k, v, output })
                t.Dispose();
            return gradients;
        }

        /// <summary>The recompute's attention: the kept output forward, the kept graph backward.</summary>
        internal sealed class Replay : autograd.SingleTensorFunction<Replay>
        {
            private const string KeptKey = "kept";

            public override string Name => nameof(KeptAttention) + nameof(Replay);

            public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
            {
                var kept = (KeptAttention)vars[3];
                ctx.save_data(KeptKey, kept);
                if (kept._kept is CudnnAttention.Kept output)
                {
                    ctx.save_for_backward(new List<Tensor> { (Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2] });
                    return output.Output.transpose(1, 2).detach();
                }
                return kept._output!.detach();
            }

            public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
            {
                var kept = (KeptAttention)ctx.get_data(KeptKey);
                var saved = kept._kept is null ? null : ctx.get_saved_variables();
                using (enable_grad())
                    return kept.Backward(gradOutput, saved?[0]!, saved?[1]!, saved?[2]!);
            }
        }
    }
}
