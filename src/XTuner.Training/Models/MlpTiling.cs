using System;
using XTuner.Core.Configuration;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// How many sequence tiles the MLP runs over (<c>mlp_tiles</c>): a fixed count, or for <c>auto</c> the fewest that
    /// keep each [tokens, intermediate_size] tensor of a tile within <see cref="AutoTileBytes"/>; never more tiles than
    /// tokens.
    /// </summary>
    public readonly record struct MlpTiling(AutoCount Tiles)
    {
        public const long AutoTileBytes = 1L << 30;

        public static MlpTiling None => new MlpTiling(AutoCount.Of(1));

        /// <summary>The tile count for <paramref name="tokens"/> tokens (batch x local sequence).</summary>
        public int For(long tokens, long intermediateSize, ScalarType dtype)
        {
            long wanted = Tiles.Count ?? (long)Math.Ceiling((double)tokens * intermediateSize * ElementSize(dtype) / AutoTileBytes);
            return (int)Math.Max(1, Math.Min(wanted, tokens));
        }

        private static int ElementSize(ScalarType dtype) => dtype switch
        {
            ScalarType.Float64 => 8,
            ScalarType.Float32 => 4,
            _ => 2,
        };
    }
}
