using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;

namespace XTuner.Core.Configuration
{
    /// <summary>Text to typed values and back, one rule for YAML, --cfg-options and PowerShell -Option.</summary>
    public static class ConfigValues
    {
        /// <summary>The names an enum takes in YAML (lower case, or its <see cref="ConfigNameAttribute"/>).</summary>
        public static IEnumerable<string> EnumNames(Type enumType) =>
            Enum.GetValues(enumType).Cast<object>().Select(FormatEnum);

        public static string FormatEnum(object value)
        {
            var member = value.GetType().GetField(value.ToString());
            return member?.GetCustomAttribute<ConfigNameAttribute>()?.Name ?? value.ToString().ToLowerInvariant();
        }

        public static bool TryParseEnum(Type enumType, string text, out object? value)
        {
            var wanted = text.Trim().Replace("-", "_");
            foreach (var field in enumType.GetFields(BindingFlags.Public | BindingFlags.Static))
            {
                var v = field.GetValue(null);
                var names = new[] { field.Name, FormatEnum(v) }
                    .Concat(field.GetCustomAttributes<ConfigAliasAttribute>().Select(a => a.Alias));
                if (names.Any(n => string.Equals(n.Replace("-", "_"), wanted, StringComparison.OrdinalIgnoreCase)))
                {
                    value = v;
                    return true;
                }
            }
            value = null;
            return false;
        }

        /// <summary>Whether a plain YAML scalar means null.</summary>
        public static bool IsNullText(string text) =>
            text.Length == 0 || text == "~" || string.Equals(text, "null", StringComparison.OrdinalIgnoreCase);

        /// <summary>
        /// Converts scalar text to <paramref name="type"/>. Integers accept k/m suffixes (128k = 131072).
        /// Returns false with a message that says what is allowed.
        /// </summary>
        public static bool TryConvertScalar(Type type, string text, out object? value, out string error)
        {
            value = null;
            error = "";
            var t = text.Trim();
            if (type == typeof(string))
            {
                value = text;
                return true;
            }
            if (type == typeof(int) || type == typeof(long))
            {
                if (TryParseInteger(t, out var n) && (type == typeof(long) || (n >= int.MinValue && n <= int.MaxValue)))
                {
                    value = type == typeof(int) ? (object)(int)n : n;
                    return true;
                }
                error = $"'{text}' is not an integer (write e.g. 4096 or 128k)";
                return false;
            }
            if (type == typeof(double))
            {
                if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && !double.IsNaN(d) && !double.IsInfinity(d))
                {
                    value = d;
                    return true;
                }
                error = $"'{text}' is not a number (write e.g. 2e-5 or 0.03)";
                return false;
            }
            if (type == typeof(bool))
            {
                switch (t.ToLowerInvariant())
                {
                    case "true": case "yes": case "on": case "1": value = true; return true;
                    case "false": case "no": case "off": case "0": value = false; return true;
                }
                error = $"'{text}' is not true or false";
                return false;
            }
            if (type == typeof(AutoCount))
            {
                if (AutoCount.TryParse(t, out var count))
                {
                    value = count;
                    return true;
                }
                error = $"'{text}' is neither auto nor a whole number of 1 or more";
                return false;
            }
            if (type.IsEnum)
            {
                if (TryParseEnum(type, t, out value)) return true;
                error = $"'{text}' is not one of: {string.Join(", ", EnumNames(type))}";
                return false;
            }
            error = $"values of type {type.Name} are not supported";
            return false;
        }

        private static bool TryParseInteger(string t, out long n)
        {
            long multiplier = 1;
            if (t.Length > 1)
            {
                switch (char.ToLowerInvariant(t[t.Length - 1]))
                {
                    case 'k': multiplier = 1024; break;
                    case 'm': multiplier = 1024 * 1024; break;
                }
                if (multiplier != 1) t = t.Substring(0, t.Length - 1);
            }
            if (long.TryParse(t.Replace("_", ""), NumberStyles.Integer, CultureInfo.InvariantCulture, out n))
            {
                n *= multiplier;
                return true;
            }
            // 2e5 style integers
            if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d == Math.Floor(d) && Math.Abs(d) < 9e15)
            {
                n = (long)d * multiplier;
                return true;
            }
            return false;
        }

        /// <summary>Scalar text as written to YAML.</summary>
        public static string FormatScalar(object value)
        {
            switch (value)
            {
                case bool b: return b ? "true" : "false";
                case double d: return FormatDouble(d);
                case float f: return FormatDouble(f);
                case IFormattable f when !(value is Enum): return f.ToString(null, CultureInfo.InvariantCulture);
                case Enum e: return FormatEnum(e);
                default: return value.ToString() ?? "";
            }
        }

        /// <summary>Shortest round-trip text, always readable as a float by YAML 1.1 readers (2.0e-05, 1.0).</summary>
        public static string FormatDouble(double d)
        {
            var s = d.ToString("R", CultureInfo.InvariantCulture);
            int e = s.IndexOfAny(new[] { 'E', 'e' });
            var mantissa = e >= 0 ? s.Substring(0, e) : s;
            var exponent = e >= 0 ? "e" + s.Substring(e + 1) : "";
            if (mantissa.IndexOf('.') < 0) mantissa += ".0";
            return mantissa + exponent;
        }
    }
}
