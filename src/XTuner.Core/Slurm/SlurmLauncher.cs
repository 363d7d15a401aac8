using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Core.Runs;

namespace XTuner.Core.Slurm
{
    /// <summary>
    /// Starts training under SLURM: <see cref="Plan"/> decides the sbatch script from a config and the user's overrides
    /// (the same preparation as a local launch: overrides, absolute paths, validation); <see cref="Submit"/> writes the
    /// work dir and submits it with sbatch, or, inside an allocation, runs its srun step there.
    /// </summary>
    public static class SlurmLauncher
    {

        /// <summary>Seconds before the time limit at which the ranks get SIGUSR1 to checkpoint, unless the config says.</summary>
        public const int DefaultSignalSeconds = 120;

        // sbatch --signal takes at most 0xffff seconds.
        private const int MaxSignalSeconds = 65535;

        /// <summary>Plans a SLURM job: prepared config and its warnings, sbatch directives, environment, srun step and script.</summary>
        /// <exception cref="XTunerConfigException">The config (with the overrides) is invalid; every problem is listed.</exception>
        /// <exception cref="XTunerException">The worker was not found (<see cref="ErrorIds.WorkerNotFound"/>).</exception>
        public static SlurmPlan Plan(XTunerConfig source, LaunchOptions options)
        {
            var config = LaunchPlanner.Prepare(source, options, out var warnings);
            var slurm = config.Slurm;
            CheckSettings(slurm);
            var workDir = config.WorkDir!;
            var layout = new WorkDirLayout(workDir);
            var plan = new SlurmPlan
            {
                Config = config,
                Warnings = LaunchPlanner.WithMemoryWarning(config, warnings),
                WorkDir = workDir,
                ConfigPath = layout.Config,
                ScriptPath = layout.SbatchScript,
                Worker = options.Worker ?? WorkerLocator.Find(),
                Nodes = config.Nodes,
                RanksPerNode = config.GpusPerNode,
                JobName = slurm.JobName ?? config.Name ?? "xtuner",
                Resume = options.Resume,
                ResumeFrom = options.ResumeFrom != null ? PathUtil.Resolve(options.ResumeFrom, options.BaseDirectory) : null,
                AllocationJobId = AllocationJobId(),
                SetsCpuThreads = config.Device == DeviceKind.Cpu,
            };
            var d = plan.Directives;
            void Add(string option, string? value) => d.Add(new KeyValuePair<string, string?>(option, value));
            Add("--job-name", plan.JobName);
            Add("--nodes", Invariant(plan.Nodes));
            Add("--ntasks-per-node", Invariant(plan.RanksPerNode));
            var gres = slurm.Gres ?? (config.Device == DeviceKind.Cuda ? "gpu:" + Invariant((config.GpusPerNode + config.RanksPerGpu - 1) / Math.Max(1, config.RanksPerGpu)) : null);
            if (gres != null) Add("--gres", gres);
            if (slurm.CpusPerTask is int cpus) Add("--cpus-per-task", Invariant(cpus));
            if (slurm.Time != null) Add("--time", slurm.Time);
            if (slurm.Partition != null) Add("--partition", slurm.Partition);
            if (slurm.Account != null) Add("--account", slurm.Account);
            Add("--chdir", workDir);
            Add("--output", SbatchScript.EscapeFilePattern(layout.SlurmOutputPrefix) + "%j.out");
            Add("--error", SbatchScript.EscapeFilePattern(layout.SlurmOutputPrefix) + "%j.err");
            // A requeued job starts the script again: keep what the earlier start wrote.
            Add("--open-mode", "append");
            Add("--requeue", null);
            // Without B: the signal goes to the job's steps, that is to every rank, which checkpoint on it.
            Add("--signal", "USR1@" + Invariant(slurm.SignalSeconds ?? DefaultSignalSeconds));
            plan.ExtraDirectives.AddRange(slurm.ExtraSbatchLines.Select(ExtraDirective));
            foreach (var pair in LaunchPlanner.NcclDefaults) plan.Environment[pair.Key] = pair.Value;
            foreach (var pair in LaunchPlanner.PassedThroughEnvironment()) plan.Environment[pair.Key] = pair.Value;
            plan.Script = SbatchScript.Render(plan);
            return plan;
        }

        /// <summary>SLURM_JOB_ID when this process runs inside a SLURM allocation (salloc, sbatch, srun), else null.</summary>
        public static string? AllocationJobId()
        {
            var id = Environment.GetEnvironmentVariable("SLURM_JOB_ID");
            return string.IsNullOrWhiteSpace(id) ? null : id!.Trim();
        }

        /// <summary>
        /// Writes <c>config.yaml</c> and <c>submit.sbatch</c> into the work dir and submits the script with
        /// <c>sbatch --parsable</c>; returns the job as the controller sees it. Inside an allocation
        /// (<see cref="SlurmPlan.AllocationJobId"/>) the script runs there instead (its srun step, no sbatch), and this
        /// returns when the step ends, calling <paramref name="onUpdate"/> on the caller's thread as metrics come;
        /// cancelling stops the step.
        /// </summary>
        /// <exception cref="XTunerException">sbatch is missing (<see cref="ErrorIds.SlurmNotFound"/>) or refused the
        /// job (<see cref="ErrorIds.SlurmSubmitFailed"/>, with sbatch's message); the work dir holds a job still queued
        /// or running, or checkpoints of an earlier run without resume (<see cref="ErrorIds.InvalidConfig"/>).</exception>
        public static XTunerJob Submit(SlurmPlan plan, Action<XTunerJob>? onUpdate = null, CancellationToken cancel = default,
            SlurmClient? client = null)
        {
            client ??= new SlurmClient();
            client.Find(plan.InAllocation ? "srun" : "sbatch");
            CheckNoActiveJob(plan.WorkDir, client);
            LaunchPlanner.PrepareWorkDir(plan.WorkDir, plan.Config, plan.ConfigPath, plan.Resume || plan.ResumeFrom != null);
            File.WriteAllText(plan.ScriptPath, plan.Script);
            if (plan.InAllocation) return RunInAllocation(plan, onUpdate, cancel);

            var jobId = client.Submit(plan.ScriptPath, plan.WorkDir);
            var job = new XTunerJob
            {
                JobId = jobId,
                Name = plan.JobName,
                State = SlurmJobState.Pending,
                WorkDir = plan.WorkDir,
                NodeCount = plan.Nodes,
                Ranks = plan.Ranks,
                ScriptPath = plan.ScriptPath,
                SubmitTime = DateTime.Now,
            };
            job.Save();
            return SlurmJobs.Refresh(job, client);
        }

        private static XTunerJob RunInAllocation(SlurmPlan plan, Action<XTunerJob>? onUpdate, CancellationToken cancel)
        {
            var id = plan.AllocationJobId!.Trim();
            var job = new XTunerJob
            {
                JobId = id,
                Name = plan.JobName,
                State = SlurmJobState.Running,
                StateText = "RUNNING",
                WorkDir = plan.WorkDir,
                Nodes = Environment.GetEnvironmentVariable("SLURM_JOB_NODELIST"),
                NodeCount = plan.Nodes,
                Ranks = plan.Ranks,
                ScriptPath = plan.ScriptPath,
                OutputFile = new WorkDirLayout(plan.WorkDir).SlurmOutput(id),
                ErrorFile = new WorkDirLayout(plan.WorkDir).SlurmOutput(id, error: true),
                InAllocation = true,
                SubmitTime = DateTime.Now,
                StartTime = DateTime.Now,
            };
            job.Save();
            // The script's output goes where sbatch would have put it, so failures read the same either way.
            var info = new ProcessStartInfo("/bin/bash")
            {
                UseShellExecute = false,
                WorkingDirectory = plan.WorkDir,
                Arguments = ProcessArguments.Join(new[] { "-c", "exec /bin/bash \"$0\" >>\"$1\" 2>>\"$2\"", plan.ScriptPath, job.OutputFile, job.ErrorFile }),
            };
            // srun joins the allocation named here (a plan may name one other than this process's).
            info.Environment["SLURM_JOB_ID"] = id;
            using var process = Process.Start(info)!;
            bool stopped = false;
            using (cancel.Register(() =>
                   {
                       stopped = true;
                       // The script execs srun, which ends the step's tasks on SIGTERM.
                       if (!ProcessSignals.Terminate(process.Id)) process.Kill();
                   }))
            {
                while (!process.WaitForExit(1000))
                {
                    job.LastStep = MetricsFile.ReadLast(plan.WorkDir);
                    onUpdate?.Invoke(job);
                }
            }
            process.WaitForExit();
            job.ExitCode = process.ExitCode;
            job.State = stopped ? SlurmJobState.Cancelled : process.ExitCode == 0 ? SlurmJobState.Completed : SlurmJobState.Failed;
            job.StateText = job.State.ToString().ToUpperInvariant();
            job.EndTime = DateTime.Now;
            job.Updated = DateTime.Now;
            job.Save();
            job.LastStep = MetricsFile.ReadLast(plan.WorkDir);
            onUpdate?.Invoke(job);
            return job;
        }

        // Two jobs training into one work dir would overwrite each other's checkpoints and metrics.
        private static void CheckNoActiveJob(string workDir, SlurmClient client)
        {
            var earlier = XTunerJob.Load(workDir);
            if (earlier == null || earlier.InAllocation || earlier.IsFinal) return;
            var record = client.ShowJob(earlier.JobId);
            if (record == null) return;
            var state = SlurmJobStates.Parse(record.Get("JobState"));
            if (!state.IsFinal())
                throw new XTunerException(ErrorIds.InvalidConfig,
                    $"SLURM job {earlier.JobId} ({record.Get("JobState")}) is still using {workDir}: stop it with Stop-XTunerJob {earlier.JobId} " +
                    "(scancel), wait for it, or choose another work dir.");
        }

        private static void CheckSettings(SlurmSettings slurm)
        {
            var findings = new List<ConfigFinding>();
            void Check(string key, string? value)
            {
                if (value != null && (value.IndexOf('\n') >= 0 || value.IndexOf('\r') >= 0))
                    findings.Add(new ConfigFinding(FindingSeverity.Error, key, $"{key} holds a line break; an #SBATCH value must be one line.", ErrorIds.InvalidConfigValue));
            }
            Check("slurm.partition", slurm.Partition);
            Check("slurm.account", slurm.Account);
            Check("slurm.time", slurm.Time);
            Check("slurm.gres", slurm.Gres);
            Check("slurm.job_name", slurm.JobName);
            foreach (var line in slurm.ExtraSbatchLines) Check("slurm.extra_sbatch_lines", line);
            if (slurm.CpusPerTask is int cpus && cpus < 1)
                findings.Add(new ConfigFinding(FindingSeverity.Error, "slurm.cpus_per_task", $"slurm.cpus_per_task must be 1 or more, not {cpus}.", ErrorIds.InvalidConfigValue));
            if (slurm.SignalSeconds is int s && (s < 0 || s > MaxSignalSeconds))
                findings.Add(new ConfigFinding(FindingSeverity.Error, "slurm.signal_seconds",
                    $"slurm.signal_seconds must be between 0 and {MaxSignalSeconds} (sbatch --signal), not {s}.", ErrorIds.InvalidConfigValue));
            if (findings.Count > 0) throw new XTunerConfigException(findings);
        }

        // "--qos=high", "#SBATCH --qos=high" and "qos=high" all mean the option --qos=high.
        private static string ExtraDirective(string line)
        {
            var text = line.Trim();
            if (text.StartsWith("#SBATCH", StringComparison.Ordinal)) text = text.Substring("#SBATCH".Length).Trim();
            return text.StartsWith("-", StringComparison.Ordinal) ? text : "--" + text;
        }

        private static string Invariant(int n) => n.ToString(CultureInfo.InvariantCulture);
    }
}
