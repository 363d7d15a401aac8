using System;
using System.Globalization;
using System.Text.Json.Serialization;
using XTuner.Core.Runs;

namespace XTuner.Core.Datasets
{
    /// <summary>
    /// How far the preparation of a dataset is: what the progress bars of <c>xtuner prepare-data</c>,
    /// <c>Initialize-XTunerDataset</c> and <c>Start-XTunerTraining</c> show while data files are tokenized.
    /// </summary>
    public sealed class DataProgress
    {
        /// <summary>Tokenizing (this process builds the cache), waiting (another process builds it) or done.</summary>
        [JsonPropertyName("phase")]
        public DataPhase Phase { get; set; }

        [JsonPropertyName("samples")]
        public long Samples { get; set; }

        /// <summary>Sample tokens so far (after truncation, without padding).</summary>
        [JsonPropertyName("tokens")]
        public long Tokens { get; set; }

        /// <summary>Bytes of the data files read so far (compressed bytes for .gz files).</summary>
        [JsonPropertyName("bytes_read")]
        public long BytesRead { get; set; }

        [JsonPropertyName("total_bytes")]
        public long TotalBytes { get; set; }

        [JsonPropertyName("elapsed_seconds")]
        public double ElapsedSeconds { get; set; }

        /// <summary>Threads that tokenize.</summary>
        [JsonPropertyName("threads")]
        public int Threads { get; set; }

        [JsonIgnore]
        public double MegabytesPerSecond => ElapsedSeconds > 0 ? BytesRead / 1e6 / ElapsedSeconds : 0;

        /// <summary>0 to 100, or -1 when the size is unknown.</summary>
        [JsonIgnore]
        public int PercentComplete => TotalBytes > 0 ? (int)Math.Min(100, BytesRead * 100 / TotalBytes) : -1;

        /// <summary>Seconds left at the rate so far, or -1 before there is a rate.</summary>
        [JsonIgnore]
        public double EtaSeconds => BytesRead > 0 && TotalBytes >= BytesRead && ElapsedSeconds > 0
            ? ElapsedSeconds * (TotalBytes - BytesRead) / BytesRead
            : -1;

        /// <summary>One line: samples, tokens, MB/s and the time left.</summary>
        public string Summary()
        {
            var c = CultureInfo.InvariantCulture;
            var what = Phase == DataPhase.Waiting ? "another process is tokenizing: " : "";
            var eta = EtaSeconds >= 0 && Phase != DataPhase.Done ? ", ETA " + Durations.Format(EtaSeconds) : "";
            var percent = PercentComplete >= 0 && Phase != DataPhase.Done ? string.Format(c, "{0}%, ", PercentComplete) : "";
            return what + percent + string.Format(c, "{0:N0} samples, {1} tokens, {2:F1} MB/s", Samples, Count(Tokens), MegabytesPerSecond) + eta;
        }

        public override string ToString() => Summary();

        /// <summary>1234567 as 1.23M: token counts run to billions.</summary>
        private static string Count(long n) =>
            n >= 1_000_000_000 ? (n / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + "B"
            : n >= 1_000_000 ? (n / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + "M"
            : n.ToString("N0", CultureInfo.InvariantCulture);
    }

    /// <summary>What a <see cref="DataProgress"/> reports.</summary>
    [JsonConverter(typeof(JsonStringEnumConverter))]
    public enum DataPhase
    {
        Tokenizing,
        Waiting,
        Done,
    }
}
