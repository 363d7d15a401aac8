using System;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using XTuner.Core.Launch;
using XTuner.Core.Runs;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Stops a training run by its work dir: every rank process ends and the run is recorded as Stopped.</summary>
    /// <remarks>
    /// <para>Stop-XTunerTraining stops a run started in another shell, or as a job, on this machine. It finds the run's rank processes in WORKDIR/run.json and asks the run's launcher to stop them; the launcher then records the run as Stopped (in its own shell, Start-XTunerTraining ends without an error). Ranks still alive after a grace period, or whose launcher is gone, are sent SIGTERM and then killed. When the cmdlet returns, none of the run's processes is left.</para>
    /// <para>With -Checkpoint, every rank first finishes the step it is taking and saves a checkpoint, and the run ends there (exit code 0 for the ranks, recorded as Stopped; Completed if its last step came first); Start-XTunerTraining -Resume continues it with the losses of an uninterrupted run. The cmdlet waits as long as that step and the checkpoint take, with a progress bar; Ctrl+C ends the wait, not the checkpoint. Before the first step there is nothing to save, and the run is stopped at once. The first Ctrl+C of xtuner train does the same.</para>
    /// <para>A run that has already ended is left as it is. A folder without a run is a non-terminating error, XTunerRunNotFound; a run on another machine or of another launcher is XTunerRunNotStoppable.</para>
    /// <para>In the shell that started a run, Ctrl+C stops it, and Stop-Job stops a run started with -AsJob.</para>
    /// </remarks>
    /// <example>
    /// <code>Stop-XTunerTraining ./work_dirs/tiny-llama-sp2</code>
    /// <para>Stops the run in that work dir.</para>
    /// </example>
    /// <example>
    /// <code>Stop-XTunerTraining ./runs/long -Checkpoint; Start-XTunerTraining -Path ./runs/long/config.yaml -WorkDir ./runs/long -Resume</code>
    /// <para>Stops the run after a checkpoint at the end of its current step, then continues it from there.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerRun ./work_dirs/* | Where-Object State -eq Running | Stop-XTunerTraining -PassThru</code>
    /// <para>Stops every running run under work_dirs and returns them.</para>
    /// </example>
    [Cmdlet(VerbsLifecycle.Stop, "XTunerTraining", SupportsShouldProcess = true, DefaultParameterSetName = WorkDirSet)]
    [OutputType(typeof(XTunerRun))]
    public sealed class StopXTunerTrainingCommand : XTunerCmdlet, IDisposable
    {
        private const string WorkDirSet = "WorkDir";
        private const string RunSet = "Run";

        /// <summary>The run's work dir.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = WorkDirSet)]
        [Alias("FullName", "PSPath")]
        [ValidateNotNullOrEmpty]
        public string? WorkDir { get; set; }

        /// <summary>The run to stop (from Get-XTunerRun or Start-XTunerTraining -PassThru).</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = RunSet)]
        [ValidateNotNull]
        public XTunerRun? Run { get; set; }

        /// <summary>Let every rank finish its step and save a checkpoint before it ends, so that the run resumes where it stopped.</summary>
        [Parameter]
        public SwitchParameter Checkpoint { get; set; }

        private readonly CancellationTokenSource _cancel = new CancellationTokenSource();

        /// <summary>Return the run as recorded after the stop.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessInput()
        {
            var folder = ParameterSetName == RunSet ? Run!.WorkDir : ResolvePath(WorkDir!);
            ErrorTarget = folder;
            var run = XTunerRun.Open(folder);
            if (!RunControl.IsActive(run))
            {
                WriteVerbose($"The run in {folder} is not running ({run.State}).");
                if (PassThru.IsPresent) WriteObject(run);
                return;
            }
            var pids = string.Join(", ", run.Ranks.Select(r => r.ProcessId));
            var how = Checkpoint.IsPresent ? " after a checkpoint at the end of its step" : "";
            if (!ShouldProcess(folder, $"Stop training run '{run.Name}' ({run.Ranks.Count} rank(s), process ids {pids}){how}")) return;
            if (Checkpoint.IsPresent)
            {
                var activity = $"Stopping {run.Name} after a checkpoint";
                try
                {
                    run = RunControl.CheckpointAndStop(folder, _cancel.Token, r => WriteProgress(new ProgressRecord(1, activity,
                        $"waiting for every rank to finish step {r.Step + 1} of {r.TotalSteps} and save it")));
                }
                catch (OperationCanceledException)
                {
                    throw new PipelineStoppedException();
                }
                WriteProgress(new ProgressRecord(1, activity, "done") { RecordType = ProgressRecordType.Completed });
            }
            else
            {
                run = RunControl.Stop(folder, RunControl.DefaultGrace);
            }
            if (PassThru.IsPresent) WriteObject(run);
        }

        protected override void StopProcessing() => _cancel.Cancel();

        public void Dispose() => _cancel.Dispose();
    }
}
