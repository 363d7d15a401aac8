using System;

namespace XTuner.Training.Data.Cache
{
    /// <summary>A cache folder that cannot be used as it is; the message says why (the warning before it is rebuilt).</summary>
    internal sealed class InvalidCacheException : Exception
    {
        public InvalidCacheException(string reason)
            : base(reason)
        {
        }
    }
}
