using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using XTuner.Core.Runs;

namespace XTuner.Core.Launch
{
    /// <summary>
    /// A work dir's exclusive lock, taken by the local launcher before it writes anything there and released when its
    /// run ends: of two runs started in the same instant in one work dir, the second fails at once. The lock is a
    /// file created atomically (create-new) that names its process; one whose process is gone (kill -9, a crashed
    /// shell) is taken over. One process holds a work dir's lock once, whatever takes it twice (the plan, then the launcher).
    /// </summary>
    public sealed class WorkDirLock : IDisposable
    {
        private static readonly ConcurrentDictionary<string, WorkDirLock> HeldHere = new ConcurrentDictionary<string, WorkDirLock>(StringComparer.Ordinal);
        private readonly string _path;
        private readonly string _content;
        private bool _released;

        private WorkDirLock(string key, string path, string content)
        {
            Key = key;
            _path = path;
            _content = content;
        }

        private string Key { get; }

        /// <summary>
        /// Takes the lock of <paramref name="workDir"/> (creating the folder), or returns this process's lock on it.
        /// </summary>
        /// <exception cref="XTunerException">Another live process holds it (<see cref="ErrorIds.WorkDirInUse"/>), or the
        /// folder cannot be written (<see cref="ErrorIds.WorkDirWriteFailed"/>).</exception>
        public static WorkDirLock Acquire(string workDir)
        {
            var key = Path.GetFullPath(workDir);
            if (HeldHere.TryGetValue(key, out var mine)) return mine;
            var path = new WorkDirLayout(key).Lock;
            var content = Describe(Process.GetCurrentProcess().Id);
            try
            {
                Directory.CreateDirectory(key);
                for (int attempt = 0; ; attempt++)
                {
                    if (TryCreate(path, content))
                    {
                        var taken = new WorkDirLock(key, path, content);
                        return HeldHere.GetOrAdd(key, taken);
                    }
                    var holder = AtomicFile.ReadAllText(path);
                    if (holder == null) continue; // released meanwhile: try again
                    if (holder == content) return HeldHere.GetOrAdd(key, new WorkDirLock(key, path, content)); // this process's, not released
                    if (IsLive(holder) || attempt > 0)
                        throw new XTunerException(ErrorIds.WorkDirInUse,
                            $"Another run holds {key} ({Holder(holder)}, since its lock {path} was taken); stop it (Stop-XTunerTraining -WorkDir {key}), wait for it, or choose another work dir.");
                    TakeOverStale(path, holder);
                }
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new XTunerException(ErrorIds.WorkDirWriteFailed, $"Cannot take the lock of the work dir {key} ({path}): {e.Message}", e);
            }
        }

        /// <summary>Whether this process holds the lock of <paramref name="workDir"/>.</summary>
        public static bool IsHeldHere(string workDir) => HeldHere.ContainsKey(Path.GetFullPath(workDir));

        /// <summary>Releases the lock (once); the file goes only while it is still this lock's.</summary>
        public void Dispose()
        {
            if (_released) return;
            _released = true;
            ((System.Collections.Generic.ICollection<System.Collections.Generic.KeyValuePair<string, WorkDirLock>>)HeldHere)
                .Remove(new System.Collections.Generic.KeyValuePair<string, WorkDirLock>(Key, this));
            try
            {
                if (AtomicFile.ReadAllText(_path) == _content) File.Delete(_path);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                // A lock left behind names a process that is gone: the next run takes it over.
            }
        }

        private static bool TryCreate(string path, string content)
        {
            try
            {
                using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
                var bytes = new UTF8Encoding(false).GetBytes(content);
                file.Write(bytes, 0, bytes.Length);
                return true;
            }
            catch (IOException) when (File.Exists(path))
            {
                return false;
            }
        }

        /// <summary>
        /// Moves a dead process's lock aside before removing it, so that of two processes taking it over at once only
        /// one removes it (a rename of a file already moved fails) and neither removes the other's new lock.
        /// </summary>
        private static void TakeOverStale(string path, string holder)
        {
            var aside = path + ".stale-" + Guid.NewGuid().ToString("N").Substring(0, 8);
            try
            {
                File.Move(path, aside);
            }
            catch (IOException) when (!File.Exists(path))
            {
                return; // another process moved it first
            }
            if (AtomicFile.ReadAllText(aside) == holder)
            {
                File.Delete(aside);
                return;
            }
            // Not the lock that was seen dead: a new holder's. Put it back unless yet another lock came meanwhile.
            try
            {
                File.Move(aside, path);
            }
            catch (IOException)
            {
                File.Delete(aside);
            }
        }

        // "pid host start": the start time tells a live process from one that was later given the same pid.
        private static string Describe(int pid) =>
            string.Join(" ", pid.ToString(CultureInfo.InvariantCulture), Environment.MachineName, StartTime(pid) ?? "-");

        private static bool IsLive(string holder)
        {
            var parts = holder.Split(' ');
            if (parts.Length < 3 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) return false;
            // A lock of another host (a shared file system) cannot be checked here: it counts as held.
            if (!string.Equals(parts[1], Environment.MachineName, StringComparison.OrdinalIgnoreCase)) return true;
            if (!ProcessSignals.IsAlive(pid)) return false;
            return parts[2] == "-" || StartTime(pid) is not string start || start == parts[2];
        }

        private static string Holder(string holder)
        {
            var parts = holder.Split(' ');
            return parts.Length >= 2 ? $"process {parts[0]} on {parts[1]}" : "another process";
        }

        /// <summary>Linux: the start time of <paramref name="pid"/> in clock ticks since boot (/proc/PID/stat, field 22).</summary>
        private static string? StartTime(int pid)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var fields = stat.Substring(stat.LastIndexOf(')') + 2).Split(' ');
                return fields.Length > 19 ? fields[19] : null;
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                return null;
            }
        }
    }
}
