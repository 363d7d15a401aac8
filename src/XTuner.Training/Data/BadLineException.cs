using System;

namespace XTuner.Training.Data
{
    /// <summary>A data line that cannot become a sample; the message says what is wrong, the builder adds file and line.</summary>
    internal sealed class BadLineException : Exception
    {
        public BadLineException(string problem, Exception? inner = null)
            : base(problem, inner)
        {
        }
    }
}
