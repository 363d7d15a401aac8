using System;
using System.Globalization;
using XTuner.Core.Configuration;

namespace XTuner.Core.Runs
{
    /// <summary>
    /// The one FLOP count behind MFU, for the trainer, the benchmark and the planner: 6N + 6 L h S per token for a
    /// causal decoder (forward and backward of the dense layers; causal attention over a whole sequence of S tokens,
    /// S/2 keys per query on average). A layer with a sliding window W shorter than S attends W - W^2/(2S) keys per
    /// query on average instead, so it counts 12 h (W - W^2/(2S)). Recomputation is not counted, as XTuner's and the MFU
    /// literature's convention.
    /// </summary>
    public static class TrainingFlops
    {
        /// <summary>H100/H200 dense bf16 peak, TFLOP/s.</summary>
        public const double DefaultPeakTflops = 989.0;

        /// <summary>Overrides the peak for other GPUs (TFLOP/s).</summary>
        public const string PeakVariable = "XTUNER_PEAK_TFLOPS";

        public static double PerToken(ModelSpec spec, long sequenceLength)
        {
            double keys = 0;
            for (int layer = 0; layer < (spec.NumHiddenLayers ?? 0); layer++) keys += AttendedKeys(sequenceLength, spec.WindowOf(layer));
            return 6.0 * (spec.ParameterCount ?? 0) + 12.0 * (spec.HiddenSize ?? 0) * keys;
        }

        /// <summary>Keys a query attends on average over <paramref name="sequenceLength"/> tokens: S/2 causal, W - W^2/(2S) within a window W &lt; S.</summary>
        public static double AttendedKeys(long sequenceLength, int? window) =>
            window is int w && w < sequenceLength ? w - (double)w * w / (2.0 * sequenceLength) : sequenceLength / 2.0;

        /// <summary>The peak FLOP/s of one GPU: <see cref="PeakVariable"/>, else <see cref="DefaultPeakTflops"/>.</summary>
        public static double PeakPerGpu() =>
            (double.TryParse(Environment.GetEnvironmentVariable(PeakVariable), NumberStyles.Float, CultureInfo.InvariantCulture, out var tflops) && tflops > 0
                ? tflops : DefaultPeakTflops) * 1e12;

        /// <summary>Model FLOPs utilisation at a throughput of <paramref name="tokensPerSecondPerGpu"/>.</summary>
        public static double Mfu(ModelSpec spec, long sequenceLength, double tokensPerSecondPerGpu, double peakPerGpu) =>
            PerToken(spec, sequenceLength) * tokensPerSecondPerGpu / peakPerGpu;
    }
}
