using System;
using System.IO;
using System.Text.Json;
using System.Text.Json.Serialization;
using XTuner.Core.Runs;

namespace XTuner.Core.Slurm
{
    /// <summary>
    /// A training job under SLURM: the controller's view of it (state, nodes, exit code) and the run's latest metrics.
    /// Submitting writes <c>work_dir/slurm-job.json</c>; every read from the controller updates it, so a job the
    /// controller has forgotten still shows its last known state.
    /// </summary>
    public sealed class XTunerJob
    {

        [JsonPropertyName("job_id")]
        public string JobId { get; set; } = "";

        [JsonPropertyName("name")]
        public string? Name { get; set; }

        [JsonPropertyName("state")]
        [JsonConverter(typeof(JsonStringEnumConverter))]
        public SlurmJobState State { get; set; }

        /// <summary>The state as SLURM wrote it (e.g. <c>CANCELLED</c>), also for states this version does not know.</summary>
        [JsonPropertyName("state_text")]
        public string? StateText { get; set; }

        /// <summary>Why the job waits or ended (SLURM's Reason: Resources, Priority, NonZeroExitCode, ...).</summary>
        [JsonPropertyName("reason")]
        public string? Reason { get; set; }

        [JsonPropertyName("work_dir")]
        public string WorkDir { get; set; } = "";

        /// <summary>The job's nodes as SLURM writes them (<c>gpu[01-02]</c>); rank 0 and the rendezvous run on the first.</summary>
        [JsonPropertyName("nodes")]
        public string? Nodes { get; set; }

        [JsonPropertyName("node_count")]
        public int NodeCount { get; set; }

        /// <summary>srun tasks, one per rank.</summary>
        [JsonPropertyName("ranks")]
        public int Ranks { get; set; }

        [JsonPropertyName("partition")]
        public string? Partition { get; set; }

        /// <summary>The batch script's exit code once the job ended (srun's: the highest of its tasks').</summary>
        [JsonPropertyName("exit_code")]
        public int? ExitCode { get; set; }

        /// <summary>The signal that ended the batch script, if one did.</summary>
        [JsonPropertyName("signal")]
        public int? Signal { get; set; }

        /// <summary>How often the job was requeued (pre-emption, <c>scontrol requeue</c>, node failure).</summary>
        [JsonPropertyName("restarts")]
        public int Restarts { get; set; }

        [JsonPropertyName("submitted")]
        public DateTime? SubmitTime { get; set; }

        [JsonPropertyName("started")]
        public DateTime? StartTime { get; set; }

        [JsonPropertyName("ended")]
        public DateTime? EndTime { get; set; }

        [JsonPropertyName("time_limit")]
        public string? TimeLimit { get; set; }

        /// <summary>The batch script's output (<c>work_dir/slurm-JOBID.out</c>).</summary>
        [JsonPropertyName("output_file")]
        public string? OutputFile { get; set; }

        /// <summary>The batch script's error output, where srun reports which task failed.</summary>
        [JsonPropertyName("error_file")]
        public string? ErrorFile { get; set; }

        [JsonPropertyName("script")]
        public string? ScriptPath { get; set; }

        /// <summary>The job ran as a step of an allocation the caller already held (srun, no sbatch); its state is the step's.</summary>
        [JsonPropertyName("in_allocation")]
        public bool InAllocation { get; set; }

        /// <summary>When the state above was read from the controller.</summary>
        [JsonPropertyName("updated")]
        public DateTime? Updated { get; set; }

        /// <summary>The latest metrics (from metrics.jsonl; not stored in the job file).</summary>
        [JsonIgnore]
        public XTunerStep? LastStep { get; set; }

        [JsonIgnore]
        public int Step => LastStep?.Step ?? 0;

        [JsonIgnore]
        public int TotalSteps => LastStep?.TotalSteps ?? 0;

        [JsonIgnore]
        public double? Loss => LastStep?.Loss;

        /// <summary>Over for good: it will not run (again) by itself.</summary>
        [JsonIgnore]
        public bool IsFinal => State.IsFinal();

        /// <summary>Each rank's output: <c>rankN.log</c>.</summary>
        [JsonIgnore]
        public string LogDirectory => Layout.Logs;

        /// <summary>Where the job's files are.</summary>
        [JsonIgnore]
        public WorkDirLayout Layout => new WorkDirLayout(WorkDir);

        public string RankLog(int rank) => Layout.RankLog(rank);

        /// <summary>Writes slurm-job.json atomically: several Get-XTunerJob and Wait-XTunerJob may read and write it at once.</summary>
        public void Save() =>
            AtomicFile.WriteAllText(Layout.SlurmJobRecord, JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }));

        /// <summary>The job last submitted from a work dir, as last seen; null when none was.</summary>
        public static XTunerJob? Load(string workDir)
        {
            var text = AtomicFile.ReadAllText(new WorkDirLayout(workDir).SlurmJobRecord);
            if (text == null) return null;
            try
            {
                var job = JsonSerializer.Deserialize<XTunerJob>(text);
                if (job == null) return null;
                job.WorkDir = Path.GetFullPath(workDir);
                job.LastStep = MetricsFile.ReadLast(workDir);
                return job;
            }
            catch (JsonException)
            {
                return null;
            }
        }

        public override string ToString() => $"job {JobId} {Name} ({StateText ?? State.ToString()})";
    }
}
