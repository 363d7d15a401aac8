using static TorchSharp.torch;

namespace XTuner.Training.Models.Attention
{
    /// <summary>
    /// Self-attention around a pluggable kernel: project to heads, rotate q and k, attend, merge heads, project out.
    /// Subclasses own the projections (and their Hugging Face names).
    /// </summary>
    internal abstract class AttentionBlock : nn.Module
    {
        protected AttentionBlock(string name, int heads, int keyValueHeads, int headDim) : base(name)
        {
            Heads = heads;
            KeyValueHeads = keyValueHeads;
            HeadDim = headDim;
        }

        protected int Heads { get; }

        protected int KeyValueHeads { get; }

        protected int HeadDim { get; }

        /// <summary>q [B, S, Hq, D], k and v [B, S, Hkv, D], before RoPE.</summary>
        protected abstract (Tensor Query, Tensor Key, Tensor Value) Project(Tensor hidden);

        protected abstract Tensor ProjectOut(Tensor attended);

        public Tensor Forward(Tensor hidden, LayerContext context)
        {
            using var scope = NewDisposeScope();
            var (query, key, value) = Project(hidden);
            var rope = context.Rope;
            var (rotatedQuery, rotatedKey) = (rope.Apply(query), rope.Apply(key));
            Tensor attended;
            using (Engine.StepPhases.Enter(Engine.StepPhases.Attention))
                attended = context.Kept is KeptAttention kept
                    ? kept.Attend(context.Attention, rotatedQuery, rotatedKey, value, context.Mask)
                    : context.Attention.Attend(rotatedQuery, rotatedKey, value, context.Mask);
            var merged = attended.reshape(hidden.shape[0], hidden.shape[1], (long)Heads * HeadDim);
            return ProjectOut(merged).MoveToOuterDisposeScope();
        }
    }
}
