using XTuner.Core;
using XTuner.Training.Engine;
using Xunit;

namespace XTuner.Training.Tests.Engine
{
    public class NumericGuardTests
    {
        private static StepResult Step(int step, double lossSum, double gradNorm) =>
            new StepResult(step, lossSum, 10, 100, 16, 1e-3, gradNorm, 0.1, 0.01, false, false);

        [Fact]
        public void FiniteStepsPass()
        {
            var guard = new NumericGuard();
            guard.Check(Step(1, 57.0, 2.5));
            guard.Check(Step(2, 50.0, 1e30));
        }

        [Fact]
        public void ANonFiniteFirstLossPointsAtTheWeightsOrTheData()
        {
            var e = Assert.Throws<XTunerException>(() => new NumericGuard().Check(Step(1, double.NaN, double.NaN)));
            Assert.Equal(ErrorIds.NonFiniteLoss, e.ErrorId);
            Assert.StartsWith("The loss is NaN at step 1 (grad_norm NaN)", e.Message);
            Assert.Contains("weights or the data hold NaN or infinite values", e.Message);
            Assert.Contains("Nothing of this step was written", e.Message);
        }

        [Fact]
        public void ADivergenceNamesTheLastFiniteLossAndWhatToChange()
        {
            var guard = new NumericGuard();
            guard.Check(Step(1, 57.0, 2.5));
            guard.Check(Step(2, 52.0, 2.0));
            var e = Assert.Throws<XTunerException>(() => guard.Check(Step(3, 51.0, double.PositiveInfinity)));
            Assert.Equal(ErrorIds.NonFiniteLoss, e.ErrorId);
            Assert.StartsWith("The gradient norm is inf at step 3 (loss 5.1000)", e.Message);
            Assert.Contains("the last finite loss was 5.2000 at step 2", e.Message);
            Assert.Contains("lower lr (now 1e-03)", e.Message);
            var loss = Assert.Throws<XTunerException>(() => guard.Check(Step(4, double.NegativeInfinity, 3.0)));
            Assert.StartsWith("The loss is -inf at step 4 (grad_norm 3)", loss.Message);
        }
    }
}
