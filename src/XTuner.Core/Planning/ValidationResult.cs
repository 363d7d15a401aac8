namespace XTuner.Core.Planning
{
    /// <summary>A benchmark case beside the planner's prediction for it.</summary>
    public sealed class ValidationResult
    {
        public ValidationResult(BenchmarkCase benchmark, XTunerPlan plan)
        {
            Case = benchmark;
            Plan = plan;
        }

        public BenchmarkCase Case { get; }

        public XTunerPlan Plan { get; }

        public double PredictedPeakGib => Plan.PeakGpuMemoryGiB;

        public double PredictedStepSeconds => Plan.StepTimeSeconds;

        /// <summary>(predicted - measured) / measured, in percent.</summary>
        public double PeakErrorPercent => (PredictedPeakGib - Case.MeasuredPeakGib) / Case.MeasuredPeakGib * 100;

        public double? StepErrorPercent => Case.MeasuredStepSeconds is double s ? (PredictedStepSeconds - s) / s * 100 : (double?)null;
    }
}
