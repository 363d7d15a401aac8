using System.Management.Automation;
using XTuner.Core.Datasets;

namespace XTuner.PowerShell
{
    /// <summary>The progress bar of a dataset's preparation: percent of the data files read, samples, tokens, MB/s, time left.</summary>
    internal static class DataPreparationProgress
    {
        private const int ActivityId = 0x7855;

        public static ProgressRecord Update(string activity, DataProgress progress) =>
            new ProgressRecord(ActivityId, activity, progress.Summary())
            {
                PercentComplete = progress.Phase == DataPhase.Done ? 100 : progress.PercentComplete,
                SecondsRemaining = progress.Phase == DataPhase.Done ? 0 : (int)System.Math.Round(progress.EtaSeconds),
            };

        public static ProgressRecord Completed(string activity) =>
            new ProgressRecord(ActivityId, activity, "done") { PercentComplete = 100, RecordType = ProgressRecordType.Completed };
    }
}
