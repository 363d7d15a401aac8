using System.IO;
using System.Linq;
using XTuner.PowerShell.Tests.Hosting;
using Xunit;
using Xunit.Abstractions;

namespace XTuner.PowerShell.Tests.Pester
{
    /// <summary>
    /// The Pester suite, tests/*.Tests.ps1, as CI runs it: <c>Invoke-Pester -Path tests -CI</c> in pwsh 7.6.9 from the
    /// repository's tool manifest, with Pester 5.7.1 from NuGet. One xunit test for the whole suite, so that Pester
    /// itself discovers, orders and runs it; a failure lists every failed It with Pester's message.
    /// </summary>
    public sealed class PesterSuiteTests
    {
        private readonly ITestOutputHelper _output;

        public PesterSuiteTests(ITestOutputHelper output) => _output = output;

        [Fact]
        public void Invoke_Pester_CI_passes_the_suite()
        {
            var run = PesterRun.Invoke(Repository.TestsDirectory, Path.Combine(System.AppContext.BaseDirectory, "pester"));
            _output.WriteLine(run.Output);
            _output.WriteLine(run.Results.Summary);
            Assert.True(run.ExitCode == 0 && run.Results.Failed.Count == 0,
                $"Invoke-Pester -CI exited with {run.ExitCode}; {run.Results.Summary}\n\n" +
                string.Join("\n\n", run.Results.Failed.Select(f => f.Name + "\n" + f.Message)) +
                (run.Results.Failed.Count == 0 ? "\n\nPester's output:\n" + run.Output : ""));
            Assert.True(run.Results.Passed > 0, "Pester ran no test: " + run.Results.Summary);
        }
    }
}
