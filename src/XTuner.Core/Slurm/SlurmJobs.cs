using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using XTuner.Core.Runs;

namespace XTuner.Core.Slurm
{
    /// <summary>Reads, watches and cancels xtuner jobs through the SLURM controller.</summary>
    public static class SlurmJobs
    {
        /// <summary>How often <see cref="Wait"/> asks the controller by default.</summary>
        public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromSeconds(1);

        /// <summary>A job by id, as the controller sees it now, with its run's latest metrics.</summary>
        /// <exception cref="XTunerException">The controller does not know the job (<see cref="ErrorIds.JobNotFound"/>).</exception>
        public static XTunerJob Get(string jobId, SlurmClient? client = null)
        {
            var record = (client ?? new SlurmClient()).ShowJob(jobId.Trim()) ??
                         throw new XTunerException(ErrorIds.JobNotFound,
                             $"SLURM does not know job {jobId} (it never existed, or ended more than the controller's MinJobAge ago): " +
                             "look it up by its work dir instead (-WorkDir, xtuner job --work-dir).");
            var workDir = record.Get("WorkDir");
            var saved = workDir != null ? XTunerJob.Load(workDir) : null;
            var job = saved != null && saved.JobId == record.Get("JobId") ? saved : new XTunerJob { WorkDir = workDir ?? "" };
            Apply(job, record);
            if (saved != null && saved.JobId == job.JobId) job.Save();
            job.LastStep = job.WorkDir.Length > 0 ? MetricsFile.ReadLast(job.WorkDir) : null;
            return job;
        }

        /// <summary>
        /// The job last submitted from a work dir: its state from the controller while the controller knows it, else
        /// the last state seen (<see cref="SlurmJobState.Unknown"/> when that was not final).
        /// </summary>
        /// <exception cref="XTunerException">No job was submitted from there (<see cref="ErrorIds.JobNotFound"/>).</exception>
        public static XTunerJob GetByWorkDir(string workDir, SlurmClient? client = null)
        {
            var job = XTunerJob.Load(workDir) ??
                      throw new XTunerException(ErrorIds.JobNotFound,
                          $"No SLURM job was submitted from {workDir} (it has no {WorkDirLayout.SlurmJobRecordName}).");
            return Refresh(job, client ?? new SlurmClient());
        }

        /// <summary>This user's xtuner jobs that the controller still knows (jobs whose work dir holds their job file).</summary>
        public static IReadOnlyList<XTunerJob> List(SlurmClient? client = null)
        {
            client ??= new SlurmClient();
            var jobs = new List<XTunerJob>();
            foreach (var id in client.MyJobIds())
            {
                var record = client.ShowJob(id);
                var workDir = record?.Get("WorkDir");
                if (record == null || workDir == null) continue;
                var job = XTunerJob.Load(workDir);
                if (job == null || job.JobId != record.Get("JobId")) continue;
                Apply(job, record);
                job.Save();
                jobs.Add(job);
            }
            return jobs;
        }

        /// <summary>The job as the controller sees it now (a step run inside an allocation keeps its recorded state).</summary>
        public static XTunerJob Refresh(XTunerJob job, SlurmClient? client = null)
        {
            if (!job.InAllocation && !job.IsFinal)
            {
                var record = (client ?? new SlurmClient()).ShowJob(job.JobId);
                if (record != null) Apply(job, record);
                else
                {
                    job.State = SlurmJobState.Unknown;
                    job.Reason = "The controller no longer knows the job: it ended while nobody watched it, more than MinJobAge ago.";
                }
                if (job.WorkDir.Length > 0 && Directory.Exists(job.WorkDir)) job.Save();
            }
            if (job.WorkDir.Length > 0) job.LastStep = MetricsFile.ReadLast(job.WorkDir);
            return job;
        }

        /// <summary>
        /// Polls the job until it is over for good (a requeued job is followed through its restart), calling
        /// <paramref name="onUpdate"/> on the caller's thread after every poll. Cancelling stops the waiting, not the job.
        /// </summary>
        /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was cancelled.</exception>
        public static XTunerJob Wait(XTunerJob job, Action<XTunerJob>? onUpdate, CancellationToken cancel,
            TimeSpan? pollInterval = null, SlurmClient? client = null)
        {
            client ??= new SlurmClient();
            while (true)
            {
                cancel.ThrowIfCancellationRequested();
                Refresh(job, client);
                onUpdate?.Invoke(job);
                if (job.IsFinal || job.State == SlurmJobState.Unknown) return job;
                cancel.WaitHandle.WaitOne(pollInterval ?? DefaultPollInterval);
            }
        }

        /// <summary>
        /// <c>scancel</c>, then waits until SLURM reports the job ended (its processes are gone once it leaves
        /// COMPLETING). A job that is over already is returned as it is.
        /// </summary>
        public static XTunerJob Cancel(XTunerJob job, TimeSpan timeout, SlurmClient? client = null)
        {
            client ??= new SlurmClient();
            Refresh(job, client);
            if (job.IsFinal || job.InAllocation) return job;
            client.Cancel(job.JobId);
            var deadline = DateTime.UtcNow + timeout;
            while (!Refresh(job, client).IsFinal && job.State != SlurmJobState.Unknown && DateTime.UtcNow < deadline)
                Thread.Sleep(200);
            return job;
        }

        /// <summary>
        /// Why a failed job failed: the first rank srun reported (from the job's error output), its log and its last lines;
        /// null for a job that did not fail.
        /// </summary>
        public static XTunerException? Failure(XTunerJob job)
        {
            if (!job.State.IsFailure()) return null;
            var errorText = ReadShared(job.ErrorFile);
            var failed = SrunReport.FirstFailure(errorText);
            var state = job.StateText ?? job.State.ToString().ToUpperInvariant();
            var nl = Environment.NewLine;
            if (job.State == SlurmJobState.Timeout)
                return new XTunerException(ErrorIds.JobFailed,
                    $"SLURM job {job.JobId} reached its time limit ({job.TimeLimit ?? "unset"}) and was stopped. Raise slurm.time, or submit " +
                    $"again with -Resume (xtuner submit --resume) to go on from the latest checkpoint in {job.WorkDir}.");
            if (failed != null)
            {
                var log = job.RankLog(failed.Rank);
                return new XTunerException(ErrorIds.JobFailed,
                    $"SLURM job {job.JobId} failed ({state}): rank {failed.Rank} on {failed.Host}: {failed.Description}. " +
                    $"Its log is {log}; last lines:{nl}{Tail(ReadShared(log), 15)}");
            }
            var why = job.Reason != null ? $" ({job.Reason})" : "";
            var code = job.ExitCode is int c ? $", exit code {c}" : "";
            return new XTunerException(ErrorIds.JobFailed,
                $"SLURM job {job.JobId} ended {state}{why}{code} before any rank reported. Its error output is {job.ErrorFile}; last lines:{nl}" +
                Tail(errorText, 15));
        }

        internal static void Apply(XTunerJob job, ScontrolRecord record)
        {
            job.JobId = record.Get("JobId") ?? job.JobId;
            job.Name = record.Get("JobName") ?? job.Name;
            job.StateText = record.Get("JobState");
            job.State = SlurmJobStates.Parse(job.StateText);
            job.Reason = record.Get("Reason");
            job.WorkDir = record.Get("WorkDir") ?? job.WorkDir;
            job.Nodes = record.Get("NodeList") ?? job.Nodes;
            job.NodeCount = record.GetInt("NumNodes") ?? job.NodeCount;
            job.Ranks = record.GetInt("NumTasks") ?? job.Ranks;
            job.Partition = record.Get("Partition");
            var (code, signal) = record.GetExitCode();
            job.ExitCode = job.State.IsFinal() ? code : null;
            job.Signal = job.State.IsFinal() && signal > 0 ? signal : null;
            job.Restarts = record.GetInt("Restarts") ?? 0;
            job.SubmitTime = record.GetTime("SubmitTime");
            job.StartTime = record.GetTime("StartTime");
            job.EndTime = job.State.IsFinal() ? record.GetTime("EndTime") : null;
            job.TimeLimit = record.Get("TimeLimit");
            job.OutputFile = record.Get("StdOut") ?? job.OutputFile;
            job.ErrorFile = record.Get("StdErr") ?? job.ErrorFile;
            job.ScriptPath = record.Get("Command") ?? job.ScriptPath;
            job.Updated = DateTime.Now;
        }

        private static string ReadShared(string? path)
        {
            if (path == null || !File.Exists(path)) return "";
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }

        private static string Tail(string text, int lines)
        {
            var all = text.Replace("\r", "").TrimEnd('\n').Split('\n');
            return string.Join(Environment.NewLine, all.Skip(Math.Max(0, all.Length - lines)).Select(l => "    " + l));
        }
    }
}
