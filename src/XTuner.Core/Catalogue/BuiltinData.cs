using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace XTuner.Core.Catalogue
{
    /// <summary>
    /// Sample datasets shipped inside the module (from examples/data), named in configs as <c>builtin:&lt;name&gt;</c>
    /// so that catalogue entries run anywhere without files.
    /// </summary>
    public static class BuiltinData
    {
        public const string Scheme = "builtin:";
        private const string Prefix = "XTuner.Data.";

        public static bool IsBuiltin(string dataFile) => dataFile.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase);

        public static IReadOnlyList<string> Names { get; } = typeof(BuiltinData).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal))
            .Select(n => Path.GetFileNameWithoutExtension(n.Substring(Prefix.Length)))
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToList();

        public static bool Exists(string dataFile) => Names.Contains(NameOf(dataFile));

        /// <summary>Opens <c>builtin:&lt;name&gt;</c> for reading.</summary>
        public static Stream Open(string dataFile)
        {
            var name = NameOf(dataFile);
            return typeof(BuiltinData).Assembly.GetManifestResourceStream(Prefix + name + ".jsonl")
                   ?? throw new FileNotFoundException($"No built-in dataset '{name}'; built-in datasets: {string.Join(", ", Names)}.");
        }

        private static string NameOf(string dataFile) => IsBuiltin(dataFile) ? dataFile.Substring(Scheme.Length) : dataFile;
    }
}
