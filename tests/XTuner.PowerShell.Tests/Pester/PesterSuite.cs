using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.PowerShell.Tests.Hosting;
using Xunit;

namespace XTuner.PowerShell.Tests.Pester
{
    /// <summary>
    /// The Pester suite (*.Tests.ps1 under tests/): every It is one test case, plus one case per file for failures outside any It.
    /// Cases come from discovery; each file then runs once and the cases read its results.
    /// </summary>
    public sealed class PesterSuite
    {
        /// <summary>The message of an It that its file skips (It -Skip, Describe -Skip): the file's condition says why.</summary>
        public const string SkipReason = "Skipped by its test file (-Skip); the condition there, or the Describe's name, says what it needs.";

        public static IEnumerable<object[]> Its() =>
            Repository.PesterFiles.SelectMany(file => PesterFile.Discover(Path.Combine(Repository.TestsDirectory, file)).Tests
                .Where(t => t.Result != "Skipped").Select(t => t.Name)
                .Append(PesterFile.ContainerName)
                .Select(name => new object[] { file, name }));

        public static IEnumerable<object[]> SkippedIts() =>
            Repository.PesterFiles.SelectMany(file => PesterFile.Discover(Path.Combine(Repository.TestsDirectory, file)).Tests
                .Where(t => t.Result == "Skipped")
                .Select(t => new object[] { file, t.Name }));

        [Theory]
        [MemberData(nameof(Its))]
        [MemberData(nameof(SkippedIts), Skip = SkipReason)]
        public void It(string file, string name)
        {
            var run = PesterFile.Run(Path.Combine(Repository.TestsDirectory, file));
            if (name == PesterFile.ContainerName)
            {
                Assert.True(run.Errors.Count == 0, string.Join("\n\n", run.Errors));
                Assert.True(run.Tests.Count > 0, $"{file} declares no It.");
                return;
            }
            var test = run[name];
            Assert.True(test.Passed, $"{test.Result}: {test.Message}");
        }
    }
}
