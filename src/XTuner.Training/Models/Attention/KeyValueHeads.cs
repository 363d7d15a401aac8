using System;
using static TorchSharp.torch;

namespace XTuner.Training.Models.Attention
{
    /// <summary>Grouped-query attention helpers for [B, S, H, D] head layouts.</summary>
    public static class KeyValueHeads
    {
        /// <summary>
        /// Repeats each key/value head <paramref name="times"/> times in place order (head h serves query heads
        /// h*times .. h*times+times-1), as transformers' repeat_kv does.
        /// </summary>
        public static Tensor Repeat(Tensor keyOrValue, long times)
        {
            if (times < 1)
                throw new ArgumentOutOfRangeException(nameof(times), times, "Repeat at least once.");
            if (times == 1)
                return keyOrValue.alias();
            var s = keyOrValue.shape;
            using var scope = NewDisposeScope();
            return keyOrValue.unsqueeze(3).expand(s[0], s[1], s[2], times, s[3])
                .reshape(s[0], s[1], s[2] * times, s[3]).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// The gradient of <see cref="Repeat"/>: each key/value head's <paramref name="times"/> repeated heads of
        /// <paramref name="gradient"/> [B, S, H * times, D] summed into it.
        /// </summary>
        public static Tensor SumRepeated(Tensor gradient, long times)
        {
            if (times < 1)
                throw new ArgumentOutOfRangeException(nameof(times), times, "Repeat at least once.");
            if (times == 1)
                return gradient.alias();
            var s = gradient.shape;
            return gradient.reshape(s[0], s[1], s[2] / times, times, s[3]).sum(3);
        }
    }
}
