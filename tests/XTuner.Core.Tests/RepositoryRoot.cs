using System;
using System.IO;

namespace XTuner.Core.Tests
{
    /// <summary>The checkout the tests run from: the folder above the test binaries that holds XTuner.sln.</summary>
    internal static class RepositoryRoot
    {
        public static string Path { get; } = Find();

        private static string Find()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "XTuner.sln"))) return dir.FullName;
            throw new InvalidOperationException("XTuner.sln not found above " + AppContext.BaseDirectory);
        }
    }
}
