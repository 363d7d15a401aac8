namespace XTuner.Core.Launch
{
    /// <summary>What the stop request in a run's work dir (<see cref="RunControl.StopFileName"/>) asks of its launcher.</summary>
    public enum StopRequest
    {
        /// <summary>No request.</summary>
        None,

        /// <summary>Stop every rank now.</summary>
        Stop,

        /// <summary>Let every rank save a checkpoint at the end of its step and end there.</summary>
        CheckpointAndStop,
    }
}
