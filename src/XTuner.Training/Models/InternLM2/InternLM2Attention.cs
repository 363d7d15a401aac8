using XTuner.Training.Models.Attention;
using static TorchSharp.torch;

namespace XTuner.Training.Models.InternLM2
{
    /// <summary>
    /// InternLM2 attention: one packed wqkv whose output rows are grouped per key/value head as
    /// [the group's query heads..., key, value] x head_dim, and wo.
    /// </summary>
    internal sealed class InternLM2Attention : AttentionBlock
    {
        private readonly LinearLayer wqkv;
        private readonly LinearLayer wo;

        public InternLM2Attention(AttentionShape shape, bool bias, Device device, ScalarType dtype)
            : base(nameof(InternLM2Attention), shape.Heads, shape.KeyValueHeads, shape.HeadDim)
        {
            wqkv = new LinearLayer(shape.HiddenSize, (long)(shape.Heads + 2 * shape.KeyValueHeads) * shape.HeadDim, bias, device, dtype);
            wo = new LinearLayer((long)shape.Heads * shape.HeadDim, shape.HiddenSize, bias, device, dtype);
            RegisterComponents();
        }

        protected override (Tensor Query, Tensor Key, Tensor Value) Project(Tensor hidden)
        {
            long batch = hidden.shape[0], length = hidden.shape[1];
            long group = Heads / KeyValueHeads;
            var packed = wqkv.forward(hidden).view(batch, length, KeyValueHeads, group + 2, HeadDim);
            var query = packed.narrow(3, 0, group).reshape(batch, length, Heads, HeadDim);
            return (query, packed.select(3, group), packed.select(3, group + 1));
        }

        protected override Tensor ProjectOut(Tensor attended) => wo.forward(attended);
    }
}
