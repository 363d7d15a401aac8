using XTuner.Core.Configuration;
using XTuner.Core.Runs;
using XTuner.Training.Runtime;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// Turns what a step did into its metrics line: the loss as the global token mean, throughput per rank and MFU
    /// (<see cref="TrainingFlops"/>), and the rank's peak memory.
    /// </summary>
    internal sealed class StepMetrics
    {
        private readonly ModelSpec _spec;
        private readonly int _ranks;
        private readonly double? _peakFlops;
        private readonly DeviceMemory _memory;

        /// <param name="spec">The model (parameters, layers, width).</param>
        /// <param name="ranks">The world size: throughput is per rank.</param>
        /// <param name="cuda">MFU means something only against a GPU's peak.</param>
        /// <param name="memory">This rank's memory meter, sampled at step phases.</param>
        public StepMetrics(ModelSpec spec, int ranks, bool cuda, DeviceMemory memory)
        {
            _spec = spec;
            _ranks = ranks;
            _peakFlops = cuda ? TrainingFlops.PeakPerGpu() : (double?)null;
            _memory = memory;
        }

        public XTunerStep Measure(StepResult step, int totalSteps, int epoch, double elapsedSeconds)
        {
            double tokensPerSecondPerGpu = step.Tokens / step.Seconds / _ranks;
            return new XTunerStep
            {
                Step = step.Step,
                TotalSteps = totalSteps,
                Epoch = epoch,
                Loss = step.LossSum / step.Targets,
                Lr = step.LearningRate,
                GradNorm = step.GradNorm,
                Tokens = (long)step.Tokens,
                TargetTokens = (long)step.Targets,
                StepTimeSeconds = step.Seconds,
                OptimizerSeconds = step.OptimizerSeconds,
                PhaseSeconds = step.PhaseSeconds == null ? null : new System.Collections.Generic.Dictionary<string, double>(step.PhaseSeconds),
                TokensPerSecondPerGpu = tokensPerSecondPerGpu,
                Mfu = _peakFlops is double peak ? TrainingFlops.Mfu(_spec, step.SequenceLength, tokensPerSecondPerGpu, peak) : (double?)null,
                MaxMemoryGib = _memory.PeakGib,
                ElapsedSeconds = elapsedSeconds,
            };
        }
    }
}
