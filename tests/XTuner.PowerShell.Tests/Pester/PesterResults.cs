using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Xml.Linq;

namespace XTuner.PowerShell.Tests.Pester
{
    /// <summary>The totals and failures of a Pester run, read from its NUnit XML report (testResults.xml).</summary>
    public sealed class PesterResults
    {
        private PesterResults(int total, int passed, int failed, int skipped, IReadOnlyList<(string Name, string Message)> failures)
        {
            Total = total;
            Passed = passed;
            Skipped = skipped;
            FailedCount = failed;
            Failed = failures;
        }

        public int Total { get; }

        public int Passed { get; }

        public int Skipped { get; }

        /// <summary>Failed tests as the report counts them (errors in blocks included).</summary>
        public int FailedCount { get; }

        /// <summary>Every failed test case with Pester's message and stack trace.</summary>
        public IReadOnlyList<(string Name, string Message)> Failed { get; }

        public string Summary => $"Pester: {Total} tests, {Passed} passed, {FailedCount} failed, {Skipped} skipped.";

        public static PesterResults Read(string path)
        {
            var root = XDocument.Load(path).Root!;
            int Count(string attribute) => int.Parse((string?)root.Attribute(attribute) ?? "0", CultureInfo.InvariantCulture);
            var cases = root.Descendants("test-case").ToList();
            var failures = cases.Where(c => (string?)c.Attribute("result") == "Failure")
                .Select(c => ((string?)c.Attribute("name") ?? "?",
                    ((string?)c.Element("failure")?.Element("message") ?? "") + "\n" + ((string?)c.Element("failure")?.Element("stack-trace") ?? "")))
                .ToList();
            // Failures outside any It (a BeforeAll that threw) fail their suite, not a case.
            failures.AddRange(root.Descendants("test-suite")
                .Where(s => (string?)s.Attribute("result") == "Failure" && s.Element("failure") != null && !s.Descendants("test-case").Any(c => (string?)c.Attribute("result") == "Failure"))
                .Select(s => ((string?)s.Attribute("name") ?? "?", (string?)s.Element("failure")!.Element("message") ?? "")));
            int passed = cases.Count(c => (string?)c.Attribute("result") == "Success");
            int skipped = cases.Count(c => (string?)c.Attribute("result") is "Ignored" or "Skipped" or "NotRun" or "Inconclusive");
            return new PesterResults(cases.Count, passed, Count("failures") + Count("errors"), skipped, failures);
        }
    }
}
