using System;
using System.IO;
using System.Linq;

namespace XTuner.Core.Models
{
    /// <summary>
    /// Finds a Hugging Face checkpoint on this machine: a local folder, or an id (<c>org/name</c>) in the Hugging Face
    /// hub cache (<c>$HF_HUB_CACHE</c>, <c>$HF_HOME/hub</c>, or <c>~/.cache/huggingface/hub</c>). Nothing is downloaded.
    /// </summary>
    public static class HfCheckpointLocator
    {
        /// <summary>The checkpoint folder, or null when it is not on this machine.</summary>
        public static string? Find(string nameOrPath, string? baseDirectory = null)
        {
            var expanded = PathUtil.ExpandHome(nameOrPath);
            var local = Path.IsPathRooted(expanded) ? expanded : Path.Combine(baseDirectory ?? Directory.GetCurrentDirectory(), expanded);
            if (Directory.Exists(local)) return Path.GetFullPath(local);
            if (LooksLikePath(nameOrPath)) return null;
            return FindInHubCache(nameOrPath);
        }

        /// <summary>Whether the text is meant as a filesystem path rather than a hub id.</summary>
        public static bool LooksLikePath(string nameOrPath) =>
            Path.IsPathRooted(nameOrPath) || nameOrPath.StartsWith(".", StringComparison.Ordinal) ||
            nameOrPath.StartsWith("~", StringComparison.Ordinal) || nameOrPath.Count(c => c == '/') != 1;

        /// <summary>The hub cache folder in use.</summary>
        public static string HubCache()
        {
            var hub = Environment.GetEnvironmentVariable("HF_HUB_CACHE");
            if (!string.IsNullOrEmpty(hub)) return hub!;
            var home = Environment.GetEnvironmentVariable("HF_HOME");
            if (!string.IsNullOrEmpty(home)) return Path.Combine(home!, "hub");
            return Path.Combine(PathUtil.HomeDirectory(), ".cache", "huggingface", "hub");
        }

        private static string? FindInHubCache(string id)
        {
            var repo = Path.Combine(HubCache(), "models--" + id.Replace("/", "--"));
            var snapshots = Path.Combine(repo, "snapshots");
            if (!Directory.Exists(snapshots)) return null;
            var refFile = Path.Combine(repo, "refs", "main");
            if (File.Exists(refFile))
            {
                var pinned = Path.Combine(snapshots, File.ReadAllText(refFile).Trim());
                if (Directory.Exists(pinned)) return pinned;
            }
            return Directory.GetDirectories(snapshots)
                .OrderByDescending(Directory.GetLastWriteTimeUtc)
                .FirstOrDefault();
        }
    }
}
