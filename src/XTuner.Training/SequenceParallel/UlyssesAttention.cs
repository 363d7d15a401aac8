using System;
using XTuner.Core;
using XTuner.Training.Distributed;
using XTuner.Training.Models;
using XTuner.Training.Models.Attention;
using static TorchSharp.torch;

namespace XTuner.Training.SequenceParallel
{
    /// <summary>
    /// DeepSpeed-Ulysses attention: each rank arrives with its chunk of the sequence for every head (RoPE applied with
    /// global positions), exchanges it for the whole sequence of 1/sp of the heads, runs causal attention there (flash
    /// on CUDA) and exchanges back. Key/value heads travel as they are when sp divides them; otherwise each is repeated
    /// the fewest times that make them divisible while keeping every query head's key/value head on its own rank.
    /// With head padding, query heads that sp does not divide are padded with zero heads whose output is dropped: the
    /// result is exact, at the cost of the padded heads' attention work. The attention on the whole sequence is any
    /// local kernel (<see cref="IAttentionKernel"/>), as DeepSpeed's DistributedAttention wraps any local attention.
    /// </summary>
    public sealed class UlyssesAttention : IAttentionKernel
    {
        private readonly IProcessGroup _group;
        private readonly IAttentionKernel _local;
        private readonly int _queryHeads;
        private readonly int _paddedHeads;
        private readonly long _keyValueRepeat;

        public UlyssesAttention(IProcessGroup group, IAttentionKernel local, int queryHeads, int keyValueHeads, bool headPadding)
        {
            _group = group;
            _local = local;
            _queryHeads = queryHeads;
            int sp = group.Size;
            if (queryHeads % sp == 0)
            {
                _paddedHeads = queryHeads;
                _keyValueRepeat = keyValueHeads % sp == 0 ? 1 : sp / Gcd(keyValueHeads, sp);
            }
            else if (headPadding)
            {
                _paddedHeads = (queryHeads + sp - 1) / sp * sp;
                _keyValueRepeat = queryHeads / keyValueHeads;
            }
            else
            {
                throw new XTunerException(ErrorIds.InvalidSequenceParallelSize,
                    $"sequence_parallel_size {sp} does not divide the model's {queryHeads} attention heads; use a divisor of {queryHeads} or set sequence_parallel_head_padding: true.");
            }
        }

        public Tensor Attend(Tensor q, Tensor k, Tensor v)
        {
            using var scope = NewDisposeScope();
            if (_keyValueRepeat > 1)
            {
                k = KeyValueHeads.Repeat(k, _keyValueRepeat);
                v = KeyValueHeads.Repeat(v, _keyValueRepeat);
            }
            if (_paddedHeads != _queryHeads)
            {
                q = PadHeads(q);
                k = PadHeads(k);
                v = PadHeads(v);
            }
            var output = _local.Attend(SequenceAllToAll.ToFullSequence(q, _group), SequenceAllToAll.ToFullSequence(k, _group),
                SequenceAllToAll.ToFullSequence(v, _group));
            output = SequenceAllToAll.ToLocalChunk(output, _group);
            if (_paddedHeads != _queryHeads) output = output.narrow(2, 0, _queryHeads);
            return output.MoveToOuterDisposeScope();
        }

        private Tensor PadHeads(Tensor x)
        {
            var shape = (long[])x.shape.Clone();
            shape[2] = _paddedHeads - x.shape[2];
            return cat(new[] { x, zeros(shape, x.dtype, x.device) }, 2);
        }

        private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
    }
}
