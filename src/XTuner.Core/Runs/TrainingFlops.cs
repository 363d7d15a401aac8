using System;
using System.Globalization;
using XTuner.Core.Configuration;

namespace XTuner.Core.Runs
{
    /// <summary>
    /// The one FLOP count behind MFU, for the trainer, the benchmark and the planner: 6N + 6 L h S per token for a
    /// causal decoder (forward and backward of the dense layers; causal attention over a whole sequence of S tokens).
    /// Recomputation is not counted, as XTuner's and the MFU literature's convention.
    /// </summary>
    public static class TrainingFlops
    {
        /// <summary>H100/H200 dense bf16 peak, TFLOP/s.</summary>
        public const double DefaultPeakTflops = 989.0;

        /// <summary>Overrides the peak for other GPUs (TFLOP/s).</summary>
        public const string PeakVariable = "XTUNER_PEAK_TFLOPS";

        public static double PerToken(ModelSpec spec, long sequenceLength) =>
            6.0 * (spec.ParameterCount ?? 0) + 6.0 * (spec.NumHiddenLayers ?? 0) * (double)(spec.HiddenSize ?? 0) * sequenceLength;

        /// <summary>The peak FLOP/s of one GPU: <see cref="PeakVariable"/>, else <see cref="DefaultPeakTflops"/>.</summary>
        public static double PeakPerGpu() =>
            (double.TryParse(Environment.GetEnvironmentVariable(PeakVariable), NumberStyles.Float, CultureInfo.InvariantCulture, out var tflops) && tflops > 0
                ? tflops : DefaultPeakTflops) * 1e12;

        /// <summary>Model FLOPs utilisation at a throughput of <paramref name="tokensPerSecondPerGpu"/>.</summary>
        public static double Mfu(ModelSpec spec, long sequenceLength, double tokensPerSecondPerGpu, double peakPerGpu) =>
            PerToken(spec, sequenceLength) * tokensPerSecondPerGpu / peakPerGpu;
    }
}
