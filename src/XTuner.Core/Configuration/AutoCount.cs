using System;
using System.Globalization;

namespace XTuner.Core.Configuration
{
    /// <summary>A count the user gives (1 or more) or leaves to the program (<c>auto</c>).</summary>
    public readonly struct AutoCount : IEquatable<AutoCount>
    {
        private AutoCount(int? count) => Count = count;

        /// <summary>The program decides.</summary>
        public static AutoCount Auto => default;

        public static AutoCount Of(int count) =>
            count >= 1 ? new AutoCount(count) : throw new ArgumentOutOfRangeException(nameof(count), count, "A count is 1 or more.");

        /// <summary>The count given, or null for auto.</summary>
        public int? Count { get; }

        public bool IsAuto => Count is null;

        /// <summary>Parses <c>auto</c> or a whole number of 1 or more.</summary>
        public static bool TryParse(string text, out AutoCount value)
        {
            var t = text.Trim();
            if (string.Equals(t, "auto", StringComparison.OrdinalIgnoreCase))
            {
                value = Auto;
                return true;
            }
            if (int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 1)
            {
                value = Of(n);
                return true;
            }
            value = Auto;
            return false;
        }

        public bool Equals(AutoCount other) => Count == other.Count;

        public override bool Equals(object? obj) => obj is AutoCount other && Equals(other);

        public override int GetHashCode() => Count.GetHashCode();

        public override string ToString() => Count?.ToString(CultureInfo.InvariantCulture) ?? "auto";
    }
}
