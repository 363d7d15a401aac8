using System.Management.Automation;
using XTuner.Core;
using XTuner.Core.Slurm;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Gets XTuner training jobs from SLURM: state, nodes, ranks, exit code and the latest training step.</summary>
    /// <remarks>
    /// <para>Get-XTunerJob asks the SLURM controller (scontrol show job; squeue) about jobs submitted with Start-XTunerTraining -Launcher Slurm or xtuner submit, and reads each job's latest metrics from rank 0's metrics.jsonl in its work dir. No accounting database is needed.</para>
    /// <para>Without parameters it returns your jobs that the controller still knows and that xtuner submitted. -JobId names jobs by their SLURM id; -WorkDir names the job last submitted from a work dir, which also works after the controller has forgotten the job (its last seen state is kept in work_dir/slurm-job.json). A job that cannot be found is ErrorId XTunerJobNotFound; no SLURM client on PATH is XTunerSlurmNotFound.</para>
    /// <para>Each XTunerJob has JobId, Name, State (Pending, Running, Completed, Failed, Cancelled, Timeout, ...), Reason, Nodes, Ranks, ExitCode, Restarts, the output and error files, WorkDir, and Step, TotalSteps and Loss from the latest metrics.</para>
    /// </remarks>
    /// <example>
    /// <code>Get-XTunerJob</code>
    /// <para>Lists your XTuner jobs that SLURM still knows.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerJob -WorkDir ./work_dirs/tiny-llama-sp2 | Format-List *</code>
    /// <para>Shows everything about the job last submitted from that work dir.</para>
    /// </example>
    [Cmdlet(VerbsCommon.Get, "XTunerJob", DefaultParameterSetName = MineSet)]
    [OutputType(typeof(XTunerJob))]
    public sealed class GetXTunerJobCommand : SlurmJobCmdlet
    {
        private const string MineSet = "Mine";

        protected override void ProcessInput()
        {
            if (ParameterSetName == MineSet)
                Attempt(null, () => WriteObject(SlurmJobs.List(), enumerateCollection: true), ErrorIds.SlurmNotFound);
            else
                WriteObject(NamedJobs(), enumerateCollection: true);
        }
    }
}
