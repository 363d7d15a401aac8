using System.Text.Json;
using System.Text.Json.Serialization;

namespace XTuner.Core.Runs
{
    /// <summary>
    /// A structured event rank 0 prints on stdout as <c>@xtuner-event {json}</c> when XTUNER_EVENTS=1, for the
    /// launcher (progress bars, PassThru objects). Everything else a rank prints is plain log text.
    /// </summary>
    public sealed class RunEvent
    {
        public const string Prefix = "@xtuner-event ";
        public const string EnvironmentVariable = "XTUNER_EVENTS";

        /// <summary>The ranks saved a checkpoint and ended on request (<see cref="Launch.ProcessSignals.CheckpointAndStopSignal"/>); its path is <see cref="Path"/>.</summary>
        public const string StoppedKind = "stopped";

        /// <summary>data (preparing the dataset), start, step, checkpoint, stopped, done or error.</summary>
        [JsonPropertyName("kind")]
        public string Kind { get; set; } = "";

        [JsonPropertyName("message")]
        public string? Message { get; set; }

        [JsonPropertyName("total_steps")]
        public int? TotalSteps { get; set; }

        [JsonPropertyName("metrics")]
        public XTunerStep? Metrics { get; set; }

        [JsonPropertyName("path")]
        public string? Path { get; set; }

        /// <summary>How far the dataset's preparation is (kind data).</summary>
        [JsonPropertyName("data")]
        public Datasets.DataProgress? Data { get; set; }

        public string ToLine() => Prefix + JsonSerializer.Serialize(this);

        /// <summary>The event on a log line, or null for ordinary text.</summary>
        public static RunEvent? TryParse(string? line)
        {
            if (line == null || !line.StartsWith(Prefix, System.StringComparison.Ordinal)) return null;
            try
            {
                return JsonSerializer.Deserialize<RunEvent>(line.Substring(Prefix.Length));
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }
}
