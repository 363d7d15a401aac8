using System;
using System.IO;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using Xunit;

namespace XTuner.Core.Tests.Configuration
{
    /// <summary>The README documents what the code does: every config key and every catalogue entry.</summary>
    public class ReadmeTests
    {
        private static string Readme() => File.ReadAllText(Path.Combine(RepositoryRoot.Path, "README.md"));

        [Fact]
        public void TheConfigurationReferenceIsTheSchemas()
        {
            var readme = Readme().Replace("\r\n", "\n");
            const string start = "<!-- config-reference:start -->\n", end = "<!-- config-reference:end -->";
            int a = readme.IndexOf(start, StringComparison.Ordinal) + start.Length, b = readme.IndexOf(end, StringComparison.Ordinal);
            Assert.True(a >= start.Length && b > a, "README.md lacks the config-reference markers");
            Assert.True(ConfigReference.Markdown().Replace("\r\n", "\n") == readme.Substring(a, b - a),
                "README.md's configuration reference is out of date: paste the output of `dotnet bin/xtuner/xtuner.dll list-options --markdown` between the markers.");
        }

        [Fact]
        public void EveryCatalogueEntryIsListed()
        {
            var readme = Readme();
            foreach (var name in ConfigCatalogue.Names) Assert.Contains($"| `{name}` |", readme);
        }

        [Fact]
        public void EveryPlannerAssumptionIsListedWithItsDefault()
        {
            var readme = Readme();
            foreach (var a in XTuner.Core.Planning.PlanAssumptions.Default.All)
                Assert.Contains($"| `{a.Name}` | {a.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)} ", readme);
        }
    }
}
