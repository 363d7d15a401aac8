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

        private static string FindRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "XTuner.psd1")) && File.Exists(Path.Combine(dir.FullName, "XTuner.sln")))
                    return dir.FullName;
            throw new InvalidOperationException($"No XTuner.psd1 and XTuner.sln above {AppContext.BaseDirectory}.");
        }
    }
}
