using System;
using System.Management.Automation;
using System.Threading;
using XTuner.Core;
using XTuner.Core.Slurm;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Waits for XTuner SLURM jobs to end, showing their training progress, and returns them.</summary>
    /// <remarks>
    /// <para>Wait-XTunerJob polls the SLURM controller until each job is over for good (a requeued job is followed through its restart) and shows a progress bar from rank 0's metrics.jsonl: the job's state while it is pending, then step N of T, loss, tokens/s per GPU and the time left.</para>
    /// <para>It returns each job as it ended (State Completed or Cancelled, with ExitCode). A job that failed, ran out of time or lost a node is ErrorId XTunerJobFailed instead: the message names the rank that failed first (from srun's report), its log file (work_dir/logs/rankN.log) and its last lines, and the error's TargetObject is the job. With -Timeout, a job still running when the time is up is ErrorId XTunerJobWaitTimeout. Ctrl+C stops the waiting, not the job (Stop-XTunerJob does that).</para>
    /// </remarks>
    /// <example>
    /// <code>Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -Launcher Slurm | Wait-XTunerJob</code>
    /// <para>Submits a job and follows it to the end.</para>
    /// </example>
    /// <example>
    /// <code>Wait-XTunerJob 1234 -Timeout 3600</code>
    /// <para>Waits up to an hour for job 1234.</para>
    /// </example>
    [Cmdlet(VerbsLifecycle.Wait, "XTunerJob", DefaultParameterSetName = IdSet)]
    [OutputType(typeof(XTunerJob))]
    public sealed class WaitXTunerJobCommand : SlurmJobCmdlet
    {
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();

        /// <summary>Seconds to wait for each job before giving up on it (XTunerJobWaitTimeout); 0 waits as long as it takes.</summary>
        [Parameter]
        [ValidateRange(0, int.MaxValue)]
        public int Timeout { get; set; }

        /// <summary>Seconds between questions to the controller (default 2).</summary>
        [Parameter]
        [ValidateRange(0.1, 3600.0)]
        public double PollInterval { get; set; } = 2;

        protected override void ProcessInput()
        {
            foreach (var job in NamedJobs())
            {
                if (_stop.IsCancellationRequested) return;
                Attempt(job, () => WaitFor(job));
            }
        }

        private void WaitFor(XTunerJob job)
        {
            using var timeout = Timeout > 0 ? new CancellationTokenSource(TimeSpan.FromSeconds(Timeout)) : new CancellationTokenSource();
            using var either = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, timeout.Token);
            XTunerJob ended;
            try
            {
                ended = SlurmJobs.Wait(job, j => WriteProgress(JobProgress.Update(j)), either.Token, TimeSpan.FromSeconds(PollInterval));
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !_stop.IsCancellationRequested)
            {
                WriteProgress(JobProgress.Completed(job));
                throw new XTunerException(ErrorIds.JobWaitTimeout, $"SLURM job {job.JobId} is still {job.StateText} after {Timeout} s.");
            }
            catch (OperationCanceledException)
            {
                return;
            }
            WriteProgress(JobProgress.Completed(ended));
            var failure = SlurmJobs.Failure(ended);
            // About the job as it ended (State Failed), not as it was asked for.
            if (failure != null)
            {
                WriteError(RecordOf(failure, ended));
                return;
            }
            if (ended.State == SlurmJobState.Unknown) WriteWarning($"SLURM job {ended.JobId}: {ended.Reason}");
            WriteObject(ended);
        }

        protected override void StopProcessing() => _stop.Cancel();

        protected override void EndProcessing() => _stop.Dispose();
    }
}
