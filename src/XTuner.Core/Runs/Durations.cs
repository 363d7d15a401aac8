using System;
using System.Globalization;

namespace XTuner.Core.Runs
{
    /// <summary>Times left and taken, as progress bars and logs show them.</summary>
    public static class Durations
    {
        /// <summary>
        /// Whole seconds as <c>m:ss</c> under an hour, else <c>h:mm:ss</c> with every hour counted (<c>25:00:01</c>, not a
        /// day dropped as TimeSpan's hour field would).
        /// </summary>
        public static string Format(double seconds)
        {
            var total = (long)Math.Round(seconds);
            long hours = total / 3600, minutes = total / 60 % 60, rest = total % 60;
            return hours > 0
                ? string.Format(CultureInfo.InvariantCulture, "{0}:{1:00}:{2:00}", hours, minutes, rest)
                : string.Format(CultureInfo.InvariantCulture, "{0}:{1:00}", minutes, rest);
        }
    }
}
