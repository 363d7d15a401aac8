using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace XTuner.PowerShell.Tests.Hosting
{
    /// <summary>Paths in the repository the tests run against (found upwards from the test assembly).</summary>
    public static class Repository
    {
        public static string Root { get; } = FindRoot();

        /// <summary>The root manifest users import.</summary>
        public static string Manifest => Path.Combine(Root, "XTuner.psd1");

        public static string ModuleAssembly => Path.Combine(Root, "bin", "XTuner.PowerShell.dll");

        public static string TestsDirectory => Path.Combine(Root, "tests");

        /// <summary>
        /// The Pester suite: every *.Tests.ps1 below tests/, as Invoke-Pester ./tests finds them (build output aside),
        /// relative to tests/.
        /// </summary>
        public static IReadOnlyList<string> PesterFiles =>
            Directory.GetFiles(TestsDirectory, "*.Tests.ps1", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(TestsDirectory, f))
                .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
                .OrderBy(f => f, StringComparer.Ordinal)
                .ToList();

        /// <summary>The runner (Pester/*.ps1, *.psm1) as copied beside the test assembly.</summary>
        public static string RunnerDirectory => Path.Combine(AppContext.BaseDirectory, "Pester");

        private static string FindRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "XTuner.psd1")) && File.Exists(Path.Combine(dir.FullName, "XTuner.sln")))
                    return dir.FullName;
            throw new InvalidOperationException($"No XTuner.psd1 and XTuner.sln above {AppContext.BaseDirectory}.");
        }
    }
}
