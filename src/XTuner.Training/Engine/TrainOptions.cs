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

        /// <summary>
        /// How long a rank waits for the others (rendezvous, a collective, a barrier) before giving up, as PyTorch's
        /// 30-minute default: long enough for rank 0 to write a large checkpoint while the others wait. A rank that
        /// crashes is noticed at once (its connections close), whatever this is.
        /// </summary>
        public System.TimeSpan Timeout { get; set; } = DefaultTimeout;

        public static readonly System.TimeSpan DefaultTimeout = System.TimeSpan.FromMinutes(30);

        public TextWriter Console { get; set; } = System.Console.Out;
    }
}
