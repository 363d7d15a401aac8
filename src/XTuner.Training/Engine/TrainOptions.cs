using System.IO;

namespace XTuner.Training.Engine
{
    /// <summary>How a rank runs: resume, events for a launcher, where its console goes.</summary>
    public sealed class TrainOptions
    {
        /// <summary>Continue from the latest checkpoint in the work dir, if there is one.</summary>
        public bool Resume { get; set; }

        /// <summary>Continue from this checkpoint folder.</summary>
        public string? ResumeFrom { get; set; }

        /// <summary>Print structured events on stdout (rank 0) for a launcher's progress bar.</summary>
        public bool Events { get; set; }

        /// <summary>Rendezvous and collective timeout.</summary>
        public System.TimeSpan Timeout { get; set; } = System.TimeSpan.FromMinutes(5);

        public TextWriter Console { get; set; } = System.Console.Out;
    }
}
