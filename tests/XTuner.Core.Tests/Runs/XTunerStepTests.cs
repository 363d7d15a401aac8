using XTuner.Core.Runs;
using Xunit;

namespace XTuner.Core.Tests.Runs
{
    /// <summary>How a step reads in progress bars and logs.</summary>
    public class XTunerStepTests
    {
        private static readonly XTunerStep Sample = new XTunerStep
        {
            Step = 3, TotalSteps = 10, Loss = 1.23456, Lr = 0.001, GradNorm = 1.5, TokensPerSecondPerGpu = 51200.4,
            StepTimeSeconds = 0.05, MaxMemoryGib = 0.25, ElapsedSeconds = 6,
        };

        [Theory]
        [InlineData(0, "0:00")]
        [InlineData(59.4, "0:59")]
        [InlineData(59.6, "1:00")]
        [InlineData(3599.4, "59:59")]
        [InlineData(3599.6, "1:00:00")]
        [InlineData(36000, "10:00:00")]
        [InlineData(90001, "25:00:01")]
        public void DurationsAreMinutesAndSecondsThenEveryHour(double seconds, string text)
        {
            Assert.Equal(text, Durations.Format(seconds));
        }

        [Fact]
        public void TheSummaryIsStepLossThroughputAndTimeLeft()
        {
            Assert.Equal("step 3/10 loss 1.2346 51,200 tok/s/GPU ETA 0:14", Sample.Summary());
            Assert.Equal("step 3 loss 0.5000 0 tok/s/GPU ETA 0:00", new XTunerStep { Step = 3, Loss = 0.5 }.Summary());
        }

        [Fact]
        public void TheLogLineHasEveryMetric()
        {
            Assert.Equal("step 3/10  loss 1.2346  lr 1.00e-03  grad_norm 1.500  tokens/s/gpu 51,200  step 0.05 s  mem 0.25 GiB  eta 0:14", Sample.LogLine());
            var withMfu = MetricsFile.Parse(MetricsFile.Serialize(Sample))!;
            withMfu.Mfu = 0.4123;
            withMfu.ElapsedSeconds = 38571.9;
            Assert.Equal("step 3/10  loss 1.2346  lr 1.00e-03  grad_norm 1.500  tokens/s/gpu 51,200  step 0.05 s  mfu 41.2 %  mem 0.25 GiB  eta 25:00:01", withMfu.LogLine());
        }
    }
}
