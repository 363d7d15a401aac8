using System.Linq;
using System.Management.Automation;
using XTuner.Core.Launch;
using XTuner.Core.Runs;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Stops a training run by its work dir: every rank process ends and the run is recorded as Stopped.</summary>
    /// <remarks>
    /// <para>Stop-XTunerTraining stops a run started in another shell, or as a job, on this machine. It finds the run's rank processes in WORKDIR/run.json and asks the run's launcher to stop them; the launcher then records the run as Stopped (in its own shell, Start-XTunerTraining ends without an error). Ranks still alive after a grace period, or whose launcher is gone, are sent SIGTERM and then killed. When the cmdlet returns, none of the run's processes is left.</para>
    /// <para>A run that has already ended is left as it is. A folder without a run is a non-terminating error, XTunerRunNotFound; a run on another machine or of another launcher is XTunerRunNotStoppable.</para>
    /// <para>In the shell that started a run, Ctrl+C stops it, and Stop-Job stops a run started with -AsJob.</para>
    /// </remarks>
    /// <example>
    /// <code>Stop-XTunerTraining ./work_dirs/tiny-llama-sp2</code>
    /// <para>Stops the run in that work dir.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerRun ./work_dirs/* | Where-Object State -eq Running | Stop-XTunerTraining -PassThru</code>
    /// <para>Stops every running run under work_dirs and returns them.</para>
    /// </example>
    [Cmdlet(VerbsLifecycle.Stop, "XTunerTraining", SupportsShouldProcess = true, DefaultParameterSetName = WorkDirSet)]
    [OutputType(typeof(XTunerRun))]
    public sealed class StopXTunerTrainingCommand : XTunerCmdlet
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
            if (!ShouldProcess(folder, $"Stop training run '{run.Name}' ({run.Ranks.Count} rank(s), process ids {pids})")) return;
            run = RunControl.Stop(folder, RunControl.DefaultGrace);
            if (PassThru.IsPresent) WriteObject(run);
        }
    }
}
