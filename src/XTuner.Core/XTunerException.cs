using System;

namespace XTuner.Core
{
    /// <summary>A failure with a stable <see cref="ErrorId"/> (see <see cref="ErrorIds"/>) and a message that says what to do.</summary>
    public class XTunerException : Exception
    {
        public XTunerException(string errorId, string message, Exception? inner = null)
            : base(message, inner)
        {
            ErrorId = errorId;
        }

        public string ErrorId { get; }

        /// <summary>What kind of failure this is (the PowerShell error category).</summary>
        public ErrorKind Kind => ErrorIds.KindOf(ErrorId);
    }
}
