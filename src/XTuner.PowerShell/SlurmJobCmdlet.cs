using System.Collections.Generic;
using System.Management.Automation;
using XTuner.Core;
using XTuner.Core.Slurm;

namespace XTuner.PowerShell
{
    /// <summary>
    /// What Get-, Wait- and Stop-XTunerJob share: a job named by its SLURM id, by the work dir it was submitted from,
    /// or given as an XTunerJob object (from the pipeline), and errors with stable ids.
    /// </summary>
    public abstract class SlurmJobCmdlet : XTunerCmdlet
    {
        protected const string IdSet = "JobId";
        protected const string WorkDirSet = "WorkDir";
        protected const string JobSet = "Job";

        /// <summary>The SLURM job ids (what sbatch printed; also XTunerJob.JobId).</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = IdSet)]
        [ValidateNotNullOrEmpty]
        public string[]? JobId { get; set; }

        /// <summary>Work dirs that jobs were submitted from; each names the job last submitted from it.</summary>
        [Parameter(Mandatory = true, ParameterSetName = WorkDirSet)]
        [ValidateNotNullOrEmpty]
        public string[]? WorkDir { get; set; }

        /// <summary>Jobs as Start-XTunerTraining -Launcher Slurm and Get-XTunerJob return them (from the pipeline).</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = JobSet)]
        [ValidateNotNull]
        public XTunerJob[]? Job { get; set; }

        /// <summary>
        /// The jobs the parameters name, read from the controller now. A job that cannot be found is a non-terminating
        /// error (XTunerJobNotFound); a missing SLURM client is terminating (XTunerSlurmNotFound).
        /// </summary>
        protected IEnumerable<XTunerJob> NamedJobs()
        {
            var client = new SlurmClient();
            var found = new List<XTunerJob>();
            if (ParameterSetName == IdSet)
                foreach (var id in JobId!) Attempt(id, () => found.Add(SlurmJobs.Get(id, client)), ErrorIds.SlurmNotFound);
            else if (ParameterSetName == WorkDirSet)
                foreach (var dir in WorkDir!) Attempt(dir, () => found.Add(SlurmJobs.GetByWorkDir(ResolvePath(dir), client)), ErrorIds.SlurmNotFound);
            else if (ParameterSetName == JobSet)
                foreach (var job in Job!) Attempt(job, () => found.Add(SlurmJobs.Refresh(job, client)), ErrorIds.SlurmNotFound);
            return found;
        }
    }
}
