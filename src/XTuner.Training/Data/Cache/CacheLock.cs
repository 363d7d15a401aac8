using System;
using System.IO;
using System.Threading;
using XTuner.Core;

namespace XTuner.Training.Data.Cache
{
    /// <summary>
    /// An exclusive lock on a file beside a cache folder, so that one process builds a cache while the others wait
    /// (flock on Unix, a sharing lock on Windows). The kernel lets go of it when its process dies, so a crashed builder
    /// never leaves the others waiting for ever; the lock file itself stays (deleting it would race with a new holder).
    /// </summary>
    internal sealed class CacheLock : IDisposable
    {
        private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

        private readonly FileStream _file;

        private CacheLock(FileStream file) => _file = file;

        /// <summary>
        /// Takes the lock, calling <paramref name="waiting"/> about every <paramref name="reportInterval"/> while another
        /// process holds it.
        /// </summary>
        public static CacheLock Acquire(string path, TimeSpan reportInterval, Action waiting)
        {
            var sinceReport = TimeSpan.Zero;
            while (true)
            {
                if (TryAcquire(path) is CacheLock taken)
                    return taken;
                Thread.Sleep(PollInterval);
                sinceReport += PollInterval;
                if (sinceReport >= reportInterval)
                {
                    sinceReport = TimeSpan.Zero;
                    waiting();
                }
            }
        }

        /// <summary>The lock, or null while another process (or another open of the file) holds it.</summary>
        public static CacheLock? TryAcquire(string path)
        {
            try
            {
                return new CacheLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException e) when (HeldElsewhere(e))
            {
                return null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new XTunerException(ErrorIds.PathNotFound,
                    $"Cannot lock {path} ({e.Message}): dataset_cache_dir must be a folder this user may write, on a file system with file locks.", e);
            }
        }

        public void Dispose() => _file.Dispose();

        // EWOULDBLOCK from flock (11 on Linux, 35 on macOS); ERROR_SHARING_VIOLATION (32) or ERROR_LOCK_VIOLATION (33) on Windows.
        private static bool HeldElsewhere(IOException e) => e.HResult is 11 or 35 || (e.HResult & 0xFFFF) is 32 or 33;
    }
}
