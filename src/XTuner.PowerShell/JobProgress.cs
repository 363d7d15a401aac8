using System;
using System.Management.Automation;
using XTuner.Core.Slurm;

namespace XTuner.PowerShell
{
    /// <summary>The progress bar of a SLURM job: its state while it waits, then rank 0's step, loss, tokens/s and time left.</summary>
    internal sealed class JobProgress
    {
        private const int ActivityId = 0x784A;

        public static ProgressRecord Update(XTunerJob job)
        {
            var state = job.StateText ?? job.State.ToString().ToUpperInvariant();
            var activity = $"job {job.JobId} {job.Name}";
            var m = job.LastStep;
            if (m == null || job.State == SlurmJobState.Pending)
            {
                var where = job.Reason != null && job.Reason != "None" ? $" ({job.Reason})" : job.Nodes != null ? $" on {job.Nodes}" : "";
                return new ProgressRecord(ActivityId, activity, state + where) { PercentComplete = -1 };
            }
            // The step first: the one-line bar cuts the end, and the state is RUNNING for as long as there are steps.
            return new ProgressRecord(ActivityId, activity, $"{m.Summary()} ({state} on {job.Nodes})")
            {
                PercentComplete = m.TotalSteps > 0 ? Math.Min(100, m.Step * 100 / m.TotalSteps) : -1,
            };
        }

        public static ProgressRecord Completed(XTunerJob job)
        {
            var record = Update(job);
            record.RecordType = ProgressRecordType.Completed;
            return record;
        }
    }
}
