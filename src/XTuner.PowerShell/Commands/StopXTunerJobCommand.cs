using System;
using System.Management.Automation;
using XTuner.Core.Slurm;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Cancels XTuner SLURM jobs (scancel) and waits until their ranks are gone.</summary>
    /// <remarks>
    /// <para>Stop-XTunerJob cancels each job with scancel, then waits (up to -Timeout seconds) until SLURM reports it ended, at which point no rank process of it is left: a pending job leaves the queue, a running job's ranks are ended by SLURM. A job that has already ended is left as it is.</para>
    /// <para>It asks for confirmation according to $ConfirmPreference; -WhatIf shows which jobs would be cancelled. -PassThru returns each job as it ended (State Cancelled). Checkpoints already written stay in the work dir: Start-XTunerTraining -Resume goes on from the latest one.</para>
    /// </remarks>
    /// <example>
    /// <code>Stop-XTunerJob 1234</code>
    /// <para>Cancels job 1234.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerJob | Where-Object State -eq Pending | Stop-XTunerJob -WhatIf</code>
    /// <para>Shows which of your pending XTuner jobs would be cancelled.</para>
    /// </example>
    [Cmdlet(VerbsLifecycle.Stop, "XTunerJob", DefaultParameterSetName = IdSet, SupportsShouldProcess = true)]
    [OutputType(typeof(XTunerJob))]
    public sealed class StopXTunerJobCommand : SlurmJobCmdlet
    {
        /// <summary>Seconds to wait for each job to end after scancel (default 60).</summary>
        [Parameter]
        [ValidateRange(0, int.MaxValue)]
        public int Timeout { get; set; } = 60;

        /// <summary>Return each job after it ended.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessInput()
        {
            foreach (var job in NamedJobs())
            {
                if (!ShouldProcess($"SLURM job {job.JobId} ({job.Name}, {job.StateText ?? job.State.ToString()}) in {job.WorkDir}", "Cancel")) continue;
                Attempt(job, () =>
                {
                    var ended = SlurmJobs.Cancel(job, TimeSpan.FromSeconds(Timeout));
                    if (!ended.IsFinal && ended.State != SlurmJobState.Unknown)
                        WriteWarning($"SLURM job {ended.JobId} is still {ended.StateText} {Timeout} s after scancel.");
                    if (PassThru.IsPresent) WriteObject(ended);
                });
            }
        }
    }
}
