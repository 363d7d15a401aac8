using System;
using System.Linq;
using XTuner.Core.Configuration;
using XTuner.Training.Models;
using Xunit;

namespace XTuner.Training.Tests.Models
{
    /// <summary>
    /// Inverse frequencies and attention scaling per rope type, against the formulas of transformers'
    /// modeling_rope_utils evaluated independently in double precision.
    /// </summary>
    public class RopeFrequenciesTests
    {
        private const int Dim = 128;

        [Fact]
        public void DefaultIsThetaToTheMinusTwoIOverDim()
        {
            var (inverse, scaling) = RopeFrequencies.Compute(Spec(500000, null), Dim, null);
            AssertClose(Default(500000), inverse);
            Assert.Equal(1.0, scaling);
        }

        [Fact]
        public void LinearDividesByTheFactor()
        {
            var (inverse, _) = RopeFrequencies.Compute(Spec(10000, new RopeScaling { RopeType = RopeType.Linear, Factor = 4 }), Dim, null);
            AssertClose(Default(10000).Select(f => f / 4).ToArray(), inverse);
        }

        [Fact]
        public void DynamicNtkGrowsTheBaseOnlyBeyondMaxPositions()
        {
            var spec = Spec(10000, new RopeScaling { RopeType = RopeType.Dynamic, Factor = 2 });
            AssertClose(Default(10000), RopeFrequencies.Compute(spec, Dim, 4096).InverseFrequencies);
            AssertClose(Default(10000), RopeFrequencies.Compute(spec, Dim, null).InverseFrequencies);

            var grown = 10000 * Math.Pow(2.0 * 16384 / 4096 - 1, Dim / (Dim - 2.0));
            AssertClose(Default(grown), RopeFrequencies.Compute(spec, Dim, 16384).InverseFrequencies);
        }

        [Fact]
        public void Llama3KeepsHighFrequenciesSlowsLowOnesAndSmoothsBetween()
        {
            var scaling = new RopeScaling { RopeType = RopeType.Llama3, Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositionEmbeddings = 8192 };
            var (inverse, attention) = RopeFrequencies.Compute(Spec(500000, scaling, 131072), Dim, null);
            var expected = Default(500000).Select(f =>
            {
                var wavelength = 2 * Math.PI / f;
                if (wavelength < 8192 / 4.0) return f;
                if (wavelength > 8192 / 1.0) return f / 8;
                var smooth = (8192 / wavelength - 1) / (4 - 1);
                return (1 - smooth) * f / 8 + smooth * f;
            }).ToArray();
            AssertClose(expected, inverse);
            Assert.Equal(1.0, attention);
            Assert.Contains(Enumerable.Range(0, expected.Length), i => expected[i] != Default(500000)[i] && expected[i] != Default(500000)[i] / 8);
        }

        [Fact]
        public void YarnRampsBetweenInterpolationAndExtrapolationAndScalesAttention()
        {
            var scaling = new RopeScaling { RopeType = RopeType.Yarn, Factor = 4, OriginalMaxPositionEmbeddings = 32768 };
            var (inverse, attention) = RopeFrequencies.Compute(Spec(1000000, scaling, 131072), Dim, null);

            double CorrectionDim(double rotations) => Dim * Math.Log(32768 / (rotations * 2 * Math.PI)) / (2 * Math.Log(1000000));
            var low = Math.Max(Math.Floor(CorrectionDim(32)), 0);
            var high = Math.Min(Math.Ceiling(CorrectionDim(1)), Dim - 1);
            var expected = Default(1000000).Select((f, i) =>
            {
                var extrapolation = 1 - Math.Clamp((i - low) / (high - low), 0, 1);
                return f / 4 * (1 - extrapolation) + f * extrapolation;
            }).ToArray();
            AssertClose(expected, inverse);
            Assert.Equal(0.1 * Math.Log(4) + 1, attention, 12);
        }

        [Fact]
        public void ScalingsWithoutTheirParametersAreRejected()
        {
            Assert.Throws<ArgumentException>(() => RopeFrequencies.Compute(Spec(10000, new RopeScaling { RopeType = RopeType.Linear }), Dim, null));
            Assert.Throws<ArgumentException>(() => RopeFrequencies.Compute(Spec(10000, new RopeScaling { RopeType = RopeType.Llama3, Factor = 8 }), Dim, null));
        }

        private static ModelSpec Spec(double theta, RopeScaling? scaling, int maxPositions = 4096) =>
            new ModelSpec { RopeTheta = theta, RopeScaling = scaling, MaxPositionEmbeddings = maxPositions };

        private static double[] Default(double theta) =>
            Enumerable.Range(0, Dim / 2).Select(i => 1 / Math.Pow(theta, 2.0 * i / Dim)).ToArray();

        private static void AssertClose(double[] expected, float[] actual)
        {
            Assert.Equal(expected.Length, actual.Length);
            for (var i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(actual[i] - expected[i]) <= 2e-6 * Math.Abs(expected[i]), $"[{i}] {actual[i]:E9} vs {expected[i]:E9}");
        }
    }
}
