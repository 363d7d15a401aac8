using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using XTuner.Core.Configuration;

namespace XTuner.Core.Catalogue
{
    /// <summary>
    /// The built-in configs (embedded YAML), like <c>xtuner list-cfg</c>: XTuner's long-context recipes and a tiny model
    /// that trains on a CPU. Each call returns fresh objects.
    /// </summary>
    public static class ConfigCatalogue
    {
        private const string Prefix = "XTuner.Catalogue.";

        /// <summary>Entry names, sorted.</summary>
        public static IReadOnlyList<string> Names { get; } = typeof(ConfigCatalogue).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".yaml", StringComparison.Ordinal))
            .Select(n => n.Substring(Prefix.Length, n.Length - Prefix.Length - ".yaml".Length))
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToList();

        public static bool Contains(string name) => Names.Contains(name, StringComparer.OrdinalIgnoreCase);

        /// <summary>The entry's YAML text, as <c>xtuner copy-cfg</c> writes it.</summary>
        public static string GetText(string name)
        {
            var exact = Names.FirstOrDefault(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
            if (exact == null)
            {
                var close = StringDistance.Closest(name, Names);
                throw new XTunerConfigException(new ConfigFinding(FindingSeverity.Error, "name",
                    $"No built-in config named '{name}'." + (close != null ? $" Did you mean '{close}'?" : "") + " List them with Get-XTunerConfig or xtuner list-cfg.",
                    ErrorIds.ConfigNotFound));
            }
            using var stream = typeof(ConfigCatalogue).Assembly.GetManifestResourceStream(Prefix + exact + ".yaml")!;
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }

        /// <summary>A fresh copy of the entry.</summary>
        public static XTunerConfig Get(string name) => ConfigYaml.Parse(GetText(name), "builtin:" + name);

        /// <summary>Entries whose name matches a wildcard pattern (<c>*</c>, <c>?</c>; case-insensitive); all when null.</summary>
        public static IEnumerable<XTunerConfig> Find(string? pattern = null)
        {
            var regex = pattern == null ? null : WildcardRegex(pattern);
            return Names.Where(n => regex == null || regex.IsMatch(n)).Select(Get);
        }

        /// <summary>Whether a name pattern has wildcard characters.</summary>
        public static bool IsPattern(string text) => text.IndexOfAny(new[] { '*', '?' }) >= 0;

        public static Regex WildcardRegex(string pattern) =>
            new Regex("^" + Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$", RegexOptions.IgnoreCase);
    }
}
