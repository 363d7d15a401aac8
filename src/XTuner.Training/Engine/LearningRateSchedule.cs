using System;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// Linear warm-up over the first ceil(warmup_ratio x total) steps, then cosine decay towards zero, as XTuner's
    /// LinearLR + CosineAnnealingLR recipe does. Steps are 0-based: <see cref="At"/>(s) is the rate of update s.
    /// </summary>
    public sealed class LearningRateSchedule
    {
        public LearningRateSchedule(double peak, int totalSteps, double warmupRatio)
        {
            Peak = peak;
            TotalSteps = Math.Max(1, totalSteps);
            WarmupSteps = (int)Math.Ceiling(warmupRatio * TotalSteps);
        }

        public double Peak { get; }

        public int TotalSteps { get; }

        public int WarmupSteps { get; }

        public double At(int step)
        {
            if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
            var decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
            var progress = Math.Min(1.0, (step - WarmupSteps) / (double)decaySteps);
            return Peak * 0.5 * (1 + Math.Cos(Math.PI * progress));
        }
    }
}
