using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using XTuner.PowerShell.Tests.Hosting;

namespace XTuner.PowerShell.Tests.Pester
{
    /// <summary>One It of a test file: its full name (Describe &gt; Context &gt; It) and how it ended.</summary>
    public sealed record PesterTest(string Name, string Result, string Message, TimeSpan Duration)
    {
        public bool Passed => Result == "Passed";
    }

    /// <summary>
    /// A *.Tests.ps1 file run by the Pester-compatible runner (Pester/PesterCompat.psm1) in a fresh runspace without the
    /// XTuner module: the file imports it itself, as it does under Invoke-Pester. Runs are cached, so a file runs once
    /// however many of its Its are asked for.
    /// </summary>
    public sealed class PesterFile
    {
        /// <summary>The name of the per-file case that fails on errors outside any It (discovery, AfterAll).</summary>
        public const string ContainerName = "(file: discovery, AfterAll)";

        private static readonly ConcurrentDictionary<string, Lazy<PesterFile>> Runs = new ConcurrentDictionary<string, Lazy<PesterFile>>();
        private static readonly ConcurrentDictionary<string, Lazy<PesterFile>> Discoveries = new ConcurrentDictionary<string, Lazy<PesterFile>>();

        private PesterFile(string path, IReadOnlyList<PesterTest> tests, IReadOnlyList<string> errors)
        {
            Path = path;
            Tests = tests;
            Errors = errors;
        }

        public string Path { get; }

        /// <summary>Every It, in the order of the file; duplicate names get " #2", " #3" so that each is one test case.</summary>
        public IReadOnlyList<PesterTest> Tests { get; }

        /// <summary>Failures that belong to no It.</summary>
        public IReadOnlyList<string> Errors { get; }

        public PesterTest this[string name] =>
            Tests.FirstOrDefault(t => t.Name == name) ?? throw new KeyNotFoundException($"No It named '{name}' ran in {Path}; It names: {string.Join(", ", Tests.Select(t => t.Name))}.");

        /// <summary>Discovery only: what the file declares, for xunit's test cases (once per test process).</summary>
        public static PesterFile Discover(string path) =>
            Discoveries.GetOrAdd(System.IO.Path.GetFullPath(path), p => new Lazy<PesterFile>(() => Invoke(p, discoveryOnly: true))).Value;

        /// <summary>Discovers and runs the file, once per test process.</summary>
        public static PesterFile Run(string path) =>
            Runs.GetOrAdd(System.IO.Path.GetFullPath(path), p => new Lazy<PesterFile>(() => Invoke(p, discoveryOnly: false))).Value;

        private static PesterFile Invoke(string path, bool discoveryOnly)
        {
            using var session = PowerShellSession.Open(importModule: false);
            // The tests' scopes descend from this script's scope: its variable names must not collide with theirs.
            var result = session.Run(
                "param($__PesterCompatModule, $__PesterCompatFile, $__PesterCompatDiscoveryOnly) " +
                "Import-Module $__PesterCompatModule -ErrorAction Stop; " +
                "Invoke-PesterCompat -Path $__PesterCompatFile -DiscoveryOnly:$__PesterCompatDiscoveryOnly",
                new Dictionary<string, object?>
                {
                    ["__PesterCompatModule"] = System.IO.Path.Combine(Repository.RunnerDirectory, "PesterCompat.psm1"),
                    ["__PesterCompatFile"] = path,
                    ["__PesterCompatDiscoveryOnly"] = discoveryOnly,
                });
            if (result.Terminating != null || result.Output.Count != 1)
                return new PesterFile(path, Array.Empty<PesterTest>(), new[] { "The runner failed:\n" + result.Describe() });

            var report = result.Output[0];
            var names = new Dictionary<string, int>(StringComparer.Ordinal);
            var tests = new List<PesterTest>();
            foreach (var item in Items(report, "Tests"))
            {
                var test = PSObject.AsPSObject(item);
                var name = (string)test.Properties["Name"].Value;
                names[name] = names.TryGetValue(name, out var seen) ? seen + 1 : 1;
                if (names[name] > 1) name += " #" + names[name];
                tests.Add(new PesterTest(name, (string)test.Properties["Result"].Value, (string)test.Properties["Message"].Value,
                    (TimeSpan)test.Properties["Duration"].Value));
            }
            var errors = Items(report, "Errors").Select(e => e.ToString()!).ToList();
            return new PesterFile(path, tests, errors);
        }

        private static IEnumerable<object> Items(PSObject report, string property) =>
            ((System.Collections.IEnumerable)report.Properties[property].Value).Cast<object>();
    }
}
