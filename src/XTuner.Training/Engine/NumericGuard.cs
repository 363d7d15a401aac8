using System.Globalization;
using XTuner.Core;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// Stops a run at the first step whose loss or gradient norm is NaN or infinite, before that step's metrics, checkpoint
    /// or model are written. Every rank sees the same all-reduced loss and global norm, so every rank stops at the same step.
    /// </summary>
    internal sealed class NumericGuard
    {
        private double? _lastFiniteLoss;
        private int _lastFiniteStep;

        /// <summary>Throws <see cref="ErrorIds.NonFiniteLoss"/> when <paramref name="step"/> is not finite; remembers it otherwise.</summary>
        public void Check(StepResult step)
        {
            double loss = step.LossSum / step.Targets;
            if (double.IsFinite(loss) && double.IsFinite(step.GradNorm))
            {
                _lastFiniteLoss = loss;
                _lastFiniteStep = step.Step;
                return;
            }
            string what = double.IsFinite(loss)
                ? string.Format(CultureInfo.InvariantCulture, "The gradient norm is {0} at step {1} (loss {2:F4})", Name(step.GradNorm), step.Step, loss)
                : string.Format(CultureInfo.InvariantCulture, "The loss is {0} at step {1} (grad_norm {2})", Name(loss), step.Step, Name(step.GradNorm));
            string cause = _lastFiniteLoss is double last
                ? string.Format(CultureInfo.InvariantCulture,
                    "; the last finite loss was {0:F4} at step {1}. Training diverged: lower lr (now {2:0.###e+00}), set max_norm to clip the gradients, " +
                    "or compute in float32 or bfloat16 rather than float16.", last, _lastFiniteStep, step.LearningRate)
                : " of this run, before any update of its own: the model's weights or the data hold NaN or infinite values, " +
                  "or the dtype overflows (try float32).";
            throw new XTunerException(ErrorIds.NonFiniteLoss,
                what + cause + " Nothing of this step was written; an earlier checkpoint is intact (change the config and --resume).");
        }

        private static string Name(double value) =>
            double.IsNaN(value) ? "NaN" : double.IsInfinity(value) ? (value > 0 ? "inf" : "-inf") : value.ToString("G6", CultureInfo.InvariantCulture);
    }
}
