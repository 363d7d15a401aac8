using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using XTuner.Core.Launch;
using XTuner.Core.Runs;
using Xunit;

namespace XTuner.Core.Tests.Launch
{
    /// <summary>The work dir's lock against other processes: live ones hold it, dead ones (and pids given to a newcomer) do not.</summary>
    public sealed class WorkDirLockTests : IDisposable
    {
        private readonly string _dir = TempDir.Create();
        private readonly Process _other = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;

        public void Dispose()
        {
            if (!_other.HasExited) _other.Kill();
            _other.Dispose();
            Directory.Delete(_dir, recursive: true);
        }

        private string LockFile => new WorkDirLayout(_dir).Lock;

        private static string StartTime(int pid)
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat.Substring(stat.LastIndexOf(')') + 2).Split(' ')[19];
        }

        [Fact]
        public void A_live_process_holds_it_against_this_one()
        {
            File.WriteAllText(LockFile, $"{_other.Id} {Environment.MachineName} {StartTime(_other.Id)}");
            var e = Assert.Throws<XTunerException>(() => WorkDirLock.Acquire(_dir));
            Assert.Equal(ErrorIds.WorkDirInUse, e.ErrorId);
            Assert.Contains($"process {_other.Id} on {Environment.MachineName}", e.Message);
            Assert.Contains("choose another work dir", e.Message);
        }

        [Fact]
        public void The_lock_of_a_process_that_is_gone_is_taken_over()
        {
            _other.Kill();
            _other.WaitForExit();
            File.WriteAllText(LockFile, $"{_other.Id} {Environment.MachineName} 12345");
            using var taken = WorkDirLock.Acquire(_dir);
            Assert.StartsWith(Environment.ProcessId + " ", File.ReadAllText(LockFile));
            Assert.Empty(Directory.GetFiles(_dir, "*.stale-*"));
        }

        [Fact]
        public void A_pid_that_now_belongs_to_another_process_does_not_hold_it()
        {
            File.WriteAllText(LockFile, $"{_other.Id} {Environment.MachineName} 1");
            using var taken = WorkDirLock.Acquire(_dir);
            Assert.StartsWith(Environment.ProcessId + " ", File.ReadAllText(LockFile));
        }

        [Fact]
        public void Another_hosts_lock_counts_as_held()
        {
            File.WriteAllText(LockFile, "4242 some-other-node 99");
            Assert.Equal(ErrorIds.WorkDirInUse, Assert.Throws<XTunerException>(() => WorkDirLock.Acquire(_dir)).ErrorId);
        }

        [Fact]
        public void This_process_holds_it_once_and_releasing_removes_the_file()
        {
            var first = WorkDirLock.Acquire(_dir);
            Assert.Same(first, WorkDirLock.Acquire(Path.Combine(_dir, ".")));
            Assert.True(WorkDirLock.IsHeldHere(_dir));
            first.Dispose();
            Assert.False(File.Exists(LockFile));
            Assert.False(WorkDirLock.IsHeldHere(_dir));
            using var again = WorkDirLock.Acquire(_dir);
            Assert.NotSame(first, again);
        }

        [Fact]
        public void Releasing_leaves_a_lock_that_another_process_took_meanwhile()
        {
            var mine = WorkDirLock.Acquire(_dir);
            File.WriteAllText(LockFile, $"{_other.Id} {Environment.MachineName} {StartTime(_other.Id)}");
            mine.Dispose();
            Assert.True(File.Exists(LockFile));
        }

        [Fact]
        public void A_work_dir_that_cannot_be_written_says_so()
        {
            var file = Path.Combine(_dir, "a-file");
            File.WriteAllText(file, "");
            var e = Assert.Throws<XTunerException>(() => WorkDirLock.Acquire(Path.Combine(file, "work")));
            Assert.Equal(ErrorIds.WorkDirWriteFailed, e.ErrorId);
            Assert.Contains(Path.Combine(file, "work"), e.Message);
        }
    }
}
