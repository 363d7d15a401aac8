using System;
using System.IO;

namespace XTuner.Core
{
    /// <summary>Path helpers shared by the cmdlets, the launcher and the worker.</summary>
    public static class PathUtil
    {
        public static string HomeDirectory() =>
            Environment.GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

        /// <summary>Expands a leading <c>~</c>.</summary>
        public static string ExpandHome(string path) =>
            path == "~" ? HomeDirectory()
            : path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(HomeDirectory(), path.Substring(2))
            : path;

        /// <summary>An absolute path: <c>~</c> expanded, relative paths taken against <paramref name="baseDirectory"/>.</summary>
        public static string Resolve(string path, string baseDirectory)
        {
            var expanded = ExpandHome(path);
            return Path.GetFullPath(Path.IsPathRooted(expanded) ? expanded : Path.Combine(baseDirectory, expanded));
        }
    }
}
