using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace XTuner.Core.Runs
{
    public enum RunState
    {
        Starting,
        Running,
        Completed,
        Failed,
        Stopped,
    }

    /// <summary>One rank of a run as the launcher saw it.</summary>
    public sealed class RankRecord
    {
        [JsonPropertyName("rank")]
        public int Rank { get; set; }

        [JsonPropertyName("pid")]
        public int ProcessId { get; set; }

        [JsonPropertyName("exit_code")]
        public int? ExitCode { get; set; }

        [JsonPropertyName("log")]
        public string Log { get; set; } = "";
    }

    /// <summary>
    /// A training run: its work dir, ranks, state and latest metrics. The launcher keeps <c>work_dir/run.json</c>
    /// current; <c>Get-XTunerRun</c> reads it with <c>metrics.jsonl</c>.
    /// </summary>
    public sealed class XTunerRun
    {
        [JsonPropertyName("work_dir")]
        public string WorkDir { get; set; } = "";

        [JsonPropertyName("name")]
        public string? Name { get; set; }

        [JsonPropertyName("state")]
        [JsonConverter(typeof(JsonStringEnumConverter))]
        public RunState State { get; set; }

        [JsonPropertyName("launcher")]
        public string Launcher { get; set; } = "local";

        [JsonPropertyName("launcher_pid")]
        public int LauncherProcessId { get; set; }

        [JsonPropertyName("host")]
        public string Host { get; set; } = Environment.MachineName;

        [JsonPropertyName("world_size")]
        public int WorldSize { get; set; }

        [JsonPropertyName("sequence_parallel_size")]
        public int SequenceParallelSize { get; set; }

        [JsonPropertyName("device")]
        public string Device { get; set; } = "";

        [JsonPropertyName("ranks")]
        public List<RankRecord> Ranks { get; set; } = new List<RankRecord>();

        [JsonPropertyName("started")]
        public DateTime StartTime { get; set; }

        [JsonPropertyName("ended")]
        public DateTime? EndTime { get; set; }

        [JsonPropertyName("error")]
        public string? Error { get; set; }

        [JsonPropertyName("error_id")]
        public string? ErrorId { get; set; }

        /// <summary>The latest metrics (from metrics.jsonl; not stored in run.json).</summary>
        [JsonIgnore]
        public XTunerStep? LastStep { get; set; }

        [JsonIgnore]
        public int Step => LastStep?.Step ?? 0;

        [JsonIgnore]
        public int TotalSteps => LastStep?.TotalSteps ?? 0;

        [JsonIgnore]
        public double? Loss => LastStep?.Loss;

        [JsonIgnore]
        public double? TokensPerSecondPerGpu => LastStep?.TokensPerSecondPerGpu;

        /// <summary>Where the run's files are.</summary>
        [JsonIgnore]
        public WorkDirLayout Layout => new WorkDirLayout(WorkDir);

        [JsonIgnore]
        public string LogDirectory => Layout.Logs;

        /// <summary>The exported Hugging Face model, once training completed.</summary>
        [JsonIgnore]
        public string ModelDirectory => Layout.Model;

        /// <summary>Writes run.json atomically: Get-XTunerRun and Stop-XTunerTraining may read or write it meanwhile.</summary>
        public void Save() =>
            AtomicFile.WriteAllText(Layout.RunRecord, JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }));

        /// <summary>Reads a run's state and latest metrics (see <see cref="Load"/>).</summary>
        /// <exception cref="XTunerException">The folder holds no run (<see cref="ErrorIds.RunNotFound"/>).</exception>
        public static XTunerRun Open(string workDir) =>
            Load(workDir) ?? throw new XTunerException(ErrorIds.RunNotFound, $"{workDir} holds no training run ({WorkDirLayout.RunRecordName} not found).");

        /// <summary>Reads a run's state and latest metrics; null when the folder holds no run.</summary>
        public static XTunerRun? Load(string workDir)
        {
            var text = AtomicFile.ReadAllText(new WorkDirLayout(workDir).RunRecord);
            if (text == null) return null;
            XTunerRun? run;
            try
            {
                run = JsonSerializer.Deserialize<XTunerRun>(text);
            }
            catch (JsonException)
            {
                return null;
            }
            if (run == null) return null;
            run.WorkDir = Path.GetFullPath(workDir);
            run.LastStep = MetricsFile.ReadLast(workDir);
            // A launcher killed outright (kill -9, a crashed shell) never records the end: say what the processes say.
            if (Launch.RunControl.IsActive(run) && run.Launcher == "local" && run.Host == Environment.MachineName &&
                run.LauncherProcessId > 0 && !Launch.ProcessSignals.IsAlive(run.LauncherProcessId) && Launch.RunControl.LiveRanks(run).Count == 0)
            {
                run.State = RunState.Failed;
                run.Error = $"The launcher (pid {run.LauncherProcessId}) ended without recording the end of the run, and none of its ranks is running.";
            }
            return run;
        }

        public override string ToString() => $"{Name ?? WorkDir} ({State})";
    }
}
