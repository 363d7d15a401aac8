using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using XTuner.Core.Slurm;

namespace XTuner.Cli.Commands
{
    /// <summary><c>xtuner job [JOBID]</c>: a SLURM job's state, nodes, ranks and latest step; --wait follows it, --cancel ends it.</summary>
    public sealed class JobCommand : CliCommand
    {
        public override string Name => "job";

        public override string Summary => "Show, follow or cancel SLURM jobs submitted with xtuner submit.";

        public override string Arguments => "[JOBID]";

        public override string Description =>
            "Prints the state of job JOBID (or of the job last submitted from --work-dir; without either, of every xtuner job\n" +
            "of yours that SLURM still knows): state, nodes, ranks, latest step and loss, exit code. --wait follows the job to\n" +
            "its end (a failed job names the rank that failed first and its log; exit code 1); --cancel cancels it (scancel)\n" +
            "and waits until its ranks are gone.";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--work-dir", "The work dir the job was submitted from (instead of JOBID).", "DIR"),
            new CliOption("--wait", "Follow the job until it ends; the exit code says how it ended (0 completed, 1 failed, 130 cancelled)."),
            new CliOption("--cancel", "Cancel the job (scancel) and wait until it has ended."),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            var workDir = args.Get("--work-dir");
            if (args.Positionals.Count > 1 || (args.Positionals.Count == 1 && workDir != null))
                throw new CliUsageException("give one JOBID or --work-dir");
            if (args.Positionals.Count == 0 && workDir == null)
            {
                if (args.Has("--wait") || args.Has("--cancel")) throw new CliUsageException("--wait and --cancel need a JOBID or --work-dir");
                foreach (var listed in SlurmJobs.List()) output.WriteLine(JobReport.Line(listed));
                return 0;
            }
            var job = workDir != null ? SlurmJobs.GetByWorkDir(Path.GetFullPath(workDir)) : SlurmJobs.Get(args.Positionals[0]);
            if (args.Has("--cancel"))
            {
                job = SlurmJobs.Cancel(job, TimeSpan.FromSeconds(60));
                output.WriteLine(JobReport.Line(job));
                return job.IsFinal ? 0 : 1;
            }
            if (args.Has("--wait")) return Follow(job, new JobReport(output), output);
            output.WriteLine(JobReport.Line(job));
            return 0;
        }

        /// <summary>Prints the job as it changes until it ends; Ctrl+C stops following, not the job.</summary>
        internal static int Follow(XTunerJob job, JobReport report, TextWriter output)
        {
            using var cancel = new CancellationTokenSource();
            using (JobReport.OnCtrlC(cancel, $"Stopped following job {job.JobId}; it goes on (xtuner job {job.JobId} --cancel ends it).", output))
            {
                try
                {
                    return JobReport.Finish(SlurmJobs.Wait(job, report.Update, cancel.Token));
                }
                catch (OperationCanceledException)
                {
                    return 130;
                }
            }
        }
    }
}
