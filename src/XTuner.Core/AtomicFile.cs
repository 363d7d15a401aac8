using System;
using System.IO;
using System.Text;

namespace XTuner.Core
{
    /// <summary>
    /// Files that other processes read while they are rewritten (run.json, slurm-job.json, config.yaml): a reader sees
    /// the old content or the new, never a missing or half-written file, and concurrent writers do not collide.
    /// </summary>
    public static class AtomicFile
    {
        /// <summary>
        /// Writes <paramref name="contents"/> (UTF-8, no BOM) to a temp file of its own in the same folder and renames it
        /// over <paramref name="path"/>; creates the folder. The temp file is removed if anything fails.
        /// </summary>
        public static void WriteAllText(string path, string contents)
        {
            var full = Path.GetFullPath(path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            // Unique per write: two writers never share a temp file. Same folder: the rename stays on one file system.
            var tmp = full + ".tmp-" + Guid.NewGuid().ToString("N").Substring(0, 8);
            try
            {
                File.WriteAllText(tmp, contents, new UTF8Encoding(false));
                Rename(tmp, full);
            }
            finally
            {
                if (File.Exists(tmp)) File.Delete(tmp);
            }
        }

        /// <summary>
        /// The file's text, or null when there is none. Opened so that a writer may rename over it meanwhile (on Windows
        /// that needs delete sharing).
        /// </summary>
        public static string? ReadAllText(string path)
        {
            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var reader = new StreamReader(stream, Encoding.UTF8);
                return reader.ReadToEnd();
            }
            catch (Exception e) when (e is FileNotFoundException || e is DirectoryNotFoundException)
            {
                return null;
            }
        }

        // File.Replace renames over an existing file (rename(2) on Unix) and File.Move creates a missing one; netstandard2.0
        // has no Move that overwrites. Another writer may create or replace the file between the check and the rename.
        private static void Rename(string tmp, string path)
        {
            try
            {
                if (File.Exists(path)) File.Replace(tmp, path, null);
                else File.Move(tmp, path);
            }
            catch (IOException) when (File.Exists(tmp) && File.Exists(path))
            {
                // Created by another writer after the check: replace it as if it had been there.
                File.Replace(tmp, path, null);
            }
        }
    }
}
