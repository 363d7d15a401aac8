namespace XTuner.Training.Engine
{
    /// <summary>Watches a run at its step boundaries. Every rank calls it alike, so it may run collectives.</summary>
    internal interface ITrainingObserver
    {
        /// <summary>The optimizer has taken step <paramref name="step"/> (from 1); parameters hold the new values.</summary>
        void AfterOptimizerStep(int step);
    }
}
