using System;
using System.Management.Automation;
using XTuner.Core.Launch;
using XTuner.Core.Runs;

namespace XTuner.PowerShell
{
    /// <summary>
    /// The progress bar of a training run, from rank 0's events: while the data is prepared, the share read, samples,
    /// tokens, MB/s and the time left; then step N of T, loss, tokens/s per GPU and the time left.
    /// </summary>
    internal sealed class TrainingProgress
    {
        private const int ActivityId = 0x7854;
        private readonly string _activity;
        private int _totalSteps;

        public TrainingProgress(LaunchPlan plan)
        {
            // PowerShell's one-line bar gives the activity up to half the width and cuts the status to the rest: the
            // name alone leaves the step, loss, throughput and ETA room at 80 columns.
            _activity = plan.Config.Name ?? "xtuner";
            _totalSteps = plan.Config.MaxSteps ?? 0;
        }

        /// <summary>The latest status in words (a job's StatusMessage).</summary>
        public string Status { get; private set; } = "starting";

        /// <summary>The record to write for an event, or null for events that do not move the bar.</summary>
        public ProgressRecord? Update(RunEvent e)
        {
            if (e.TotalSteps is int total && total > 0) _totalSteps = total;
            switch (e.Kind)
            {
                case "data" when e.Data != null:
                    // Before the first step, while the ranks tokenize the data (or read a cache another process builds).
                    Status = "preparing data: " + e.Data.Summary();
                    return Record(Status, e.Data.PercentComplete, e.Data.EtaSeconds >= 0 ? (int)Math.Round(e.Data.EtaSeconds) : -1);
                case "start":
                    Status = "starting";
                    return Record(Status, 0, -1);
                case "step" when e.Metrics != null:
                    var m = e.Metrics;
                    if (m.TotalSteps > 0) _totalSteps = m.TotalSteps;
                    Status = m.Summary();
                    // The ETA is in the status already; a SecondsRemaining would repeat it as "5025s" and push it out.
                    return Record(Status, _totalSteps > 0 ? Math.Min(100, m.Step * 100 / _totalSteps) : -1, -1);
                default:
                    return null;
            }
        }

        /// <summary>Removes the bar.</summary>
        public ProgressRecord Completed()
        {
            var record = Record(Status, 100, -1);
            record.RecordType = ProgressRecordType.Completed;
            return record;
        }

        private ProgressRecord Record(string status, int percent, int secondsRemaining) =>
            new ProgressRecord(ActivityId, _activity, status) { PercentComplete = percent, SecondsRemaining = secondsRemaining };
    }
}
