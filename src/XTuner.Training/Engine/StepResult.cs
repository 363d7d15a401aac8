namespace XTuner.Training.Engine
{
    /// <summary>What one optimizer step did, summed over the whole world.</summary>
    /// <param name="Step">The step just taken, from 1.</param>
    /// <param name="LossSum">Cross-entropy summed over every target of the global batch.</param>
    /// <param name="Targets">Targets that count in the loss, over the whole world and all micro-batches.</param>
    /// <param name="Tokens">Tokens processed, over the whole world (each rank's S/sp of every sequence).</param>
    /// <param name="SequenceLength">The padded length of a whole sequence (what attention spans).</param>
    /// <param name="LearningRate">The learning rate of this step.</param>
    /// <param name="GradNorm">The global gradient norm before clipping.</param>
    /// <param name="Seconds">Wall time of the step on this rank.</param>
    /// <param name="OptimizerSeconds">Of that, the optimizer step (reduction, norm, AdamW, refresh).</param>
    /// <param name="CheckpointRequested">Some rank was asked to checkpoint (SIGUSR1).</param>
    /// <param name="StopRequested">Some rank was asked to checkpoint and stop (SIGUSR2).</param>
    /// <param name="PhaseSeconds">This rank's step by phase (<see cref="StepPhases"/>), when timed so.</param>
    internal sealed record StepResult(int Step, double LossSum, double Targets, double Tokens, long SequenceLength,
        double LearningRate, double GradNorm, double Seconds, double OptimizerSeconds, bool CheckpointRequested,
        bool StopRequested,
        System.Collections.Generic.IReadOnlyDictionary<string, double>? PhaseSeconds = null);
}
