using System;
using XTuner.Core.Configuration;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// RoPE inverse frequencies and the attention scaling applied to cos/sin, per rope type, as transformers 5
    /// (modeling_rope_utils) computes them. The arithmetic runs as the same float32 torch operations on the CPU that
    /// transformers uses at model construction, so positions around 1000 and beyond rotate identically.
    /// </summary>
    internal static class RopeFrequencies
    {
        /// <summary>
        /// Frequencies for a head of <paramref name="headDim"/>. <paramref name="sequenceLength"/> matters only for
        /// dynamic NTK, which rescales the base once the sequence outgrows max_position_embeddings.
        /// </summary>
        public static (float[] InverseFrequencies, double AttentionScaling) Compute(ModelSpec spec, int headDim, long? sequenceLength)
        {
            using var scope = NewDisposeScope();
            var theta = spec.RopeTheta ?? 10000.0;
            var scaling = spec.RopeScaling;
            var type = scaling?.RopeType ?? RopeType.Default;
            (Tensor inverse, double attention) = type switch
            {
                RopeType.Default => (Default(theta, headDim), 1.0),
                RopeType.Linear => (Default(theta, headDim).div_(Factor(scaling!)), 1.0),
                RopeType.Dynamic => (DynamicNtk(spec, theta, headDim, sequenceLength), 1.0),
                RopeType.Llama3 => (Llama3(spec, theta, headDim), 1.0),
                RopeType.Yarn => Yarn(spec, theta, headDim),
                _ => throw new NotSupportedException($"RoPE type {type} is not supported."),
            };
            return (inverse.data<float>().ToArray(), attention);
        }

        /// <summary>1 / theta^(2i/dim), i = 0 .. dim/2-1.</summary>
        private static Tensor Default(double theta, int dim) => Default(Scalar(theta), dim);

        private static Tensor Default(Tensor theta, int dim) => PositionFrequencies(theta, dim).reciprocal();

        /// <summary>theta^(2i/dim), i = 0 .. dim/2-1.</summary>
        private static Tensor PositionFrequencies(Tensor theta, int dim) =>
            theta.pow(arange(0, dim, 2, ScalarType.Int64).to(ScalarType.Float32).div(dim));

        private static Tensor Scalar(double value) => full(Array.Empty<long>(), value, ScalarType.Float32);

        private static double Factor(RopeScaling scaling) =>
            scaling.Factor ?? throw new ArgumentException($"RoPE scaling '{scaling.RopeType}' needs a factor.");

        private static int MaxPositions(ModelSpec spec) =>
            spec.MaxPositionEmbeddings ?? throw new ArgumentException($"RoPE scaling '{spec.RopeScaling?.RopeType}' needs max_position_embeddings.");

        // transformers grows the base with the sequence once it passes max_position_embeddings (in float32 tensor
        // arithmetic, the length being max(position_ids)+1 as a tensor) and uses the plain base below it. It caches the
        // largest length seen; here the length is stated for every forward instead.
        private static Tensor DynamicNtk(ModelSpec spec, double theta, int dim, long? sequenceLength)
        {
            var factor = Factor(spec.RopeScaling!);
            var maxPositions = MaxPositions(spec);
            if (sequenceLength is not long length || length <= maxPositions)
                return Default(theta, dim);
            var grownBase = full(Array.Empty<long>(), length, ScalarType.Int64)
                .mul(factor).div(maxPositions).sub(factor - 1).pow(dim / (dim - 2.0)).mul(theta);
            return Default(grownBase, dim);
        }

        // Llama 3.1: long wavelengths are slowed by factor, short ones kept, the band between interpolated smoothly.
        private static Tensor Llama3(ModelSpec spec, double theta, int dim)
        {
            var s = spec.RopeScaling!;
            var factor = Factor(s);
            var low = s.LowFreqFactor ?? throw new ArgumentException("llama3 RoPE scaling needs low_freq_factor.");
            var high = s.HighFreqFactor ?? throw new ArgumentException("llama3 RoPE scaling needs high_freq_factor.");
            double oldContext = s.OriginalMaxPositionEmbeddings ?? MaxPositions(spec);
            var lowFreqWavelength = oldContext / low;
            var highFreqWavelength = oldContext / high;

            var inverse = Default(theta, dim);
            var wavelength = inverse.reciprocal().mul(2 * Math.PI);
            var slowed = where(wavelength.gt(lowFreqWavelength), inverse.div(factor), inverse);
            var smooth = wavelength.reciprocal().mul(oldContext).sub(low).div(high - low);
            var smoothed = smooth.neg().add(1).mul(slowed).div(factor).add(smooth.mul(slowed));
            var medium = wavelength.lt(highFreqWavelength).logical_not().mul(wavelength.gt(lowFreqWavelength).logical_not());
            return where(medium, smoothed, slowed);
        }

        // YaRN: interpolate low frequencies by factor, keep high ones, ramp between the dimensions that complete
        // beta_fast and beta_slow rotations over the original context; cos/sin are scaled by the attention factor.
        private static (Tensor, double) Yarn(ModelSpec spec, double theta, int dim)
        {
            var s = spec.RopeScaling!;
            var factor = Factor(s);
            var attention = s.AttentionFactor ?? (factor <= 1 ? 1.0 : 0.1 * Math.Log(factor) + 1.0);
            var betaFast = s.BetaFast ?? 32.0;
            var betaSlow = s.BetaSlow ?? 1.0;
            double original = s.OriginalMaxPositionEmbeddings ?? MaxPositions(spec);

            double CorrectionDim(double rotations) =>
                dim * Math.Log(original / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
            double lowDim = Math.Max(Math.Floor(CorrectionDim(betaFast)), 0);
            double highDim = Math.Min(Math.Ceiling(CorrectionDim(betaSlow)), dim - 1);
            if (lowDim == highDim)
                highDim += 0.001;

            var positionFrequencies = PositionFrequencies(Scalar(theta), dim);
            var extrapolation = positionFrequencies.reciprocal();
            var interpolation = positionFrequencies.mul(factor).reciprocal();
            var ramp = arange(0, dim / 2, ScalarType.Float32).sub(lowDim).div(highDim - lowDim).clamp(0, 1);
            var extrapolationWeight = ramp.neg().add(1);
            var inverse = interpolation.mul(extrapolationWeight.neg().add(1)).add(extrapolation.mul(extrapolationWeight));
            return (inverse, attention);
        }
    }
}
