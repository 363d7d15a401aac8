using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using XTuner.Core.Configuration;
using XTuner.Core.Runs;
using XTuner.Core.Slurm;
using Xunit;

namespace XTuner.Core.Tests
{
    /// <summary>Files rewritten while other processes read them: never missing, never partial, no collisions.</summary>
    public class AtomicFileTests : IDisposable
    {
        private static readonly TimeSpan Duration = TimeSpan.FromSeconds(1.5);
        private readonly string _dir = TempDir.Create();

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        [Fact]
        public void ConcurrentWritersAndReadersOfAJobFileNeverSeeItMissingOrPartial()
        {
            new XTunerJob { JobId = "1", WorkDir = _dir }.Save();
            var problems = Hammer(
                writer => new XTunerJob { JobId = "1", WorkDir = _dir, Name = new string('x', writer * 3000), Reason = writer.ToString() }.Save(),
                () =>
                {
                    var job = XTunerJob.Load(_dir);
                    return job == null ? "the job file was missing or unreadable" : job.JobId != "1" ? "wrong job " + job.JobId : null;
                });
            Assert.Empty(problems);
            Assert.Equal(new[] { WorkDirLayout.SlurmJobRecordName }, Directory.GetFiles(_dir).Select(Path.GetFileName));
        }

        [Fact]
        public void ConcurrentWritersAndReadersOfARunFileNeverSeeItMissingOrPartial()
        {
            new XTunerRun { WorkDir = _dir, State = RunState.Completed }.Save();
            var problems = Hammer(
                writer => new XTunerRun { WorkDir = _dir, State = RunState.Completed, Error = new string('e', writer * 3000) }.Save(),
                () => XTunerRun.Load(_dir)?.State == RunState.Completed ? null : "the run file was missing or unreadable");
            Assert.Empty(problems);
            Assert.Equal(new[] { WorkDirLayout.RunRecordName }, Directory.GetFiles(_dir).Select(Path.GetFileName));
        }

        [Fact]
        public void ConcurrentWritersOfAConfigLeaveOneWholeConfig()
        {
            var path = Path.Combine(_dir, "config.yaml");
            var problems = Hammer(
                writer => ConfigYaml.Save(new XTunerConfig { Name = "writer" + writer, MaxSteps = writer + 1 }, path),
                () =>
                {
                    var text = AtomicFile.ReadAllText(path);
                    if (text == null) return null; // not written yet
                    var config = ConfigYaml.Parse(text, path);
                    return config.Name == "writer" + (config.MaxSteps - 1) ? null : $"a mixed config: {config.Name}, max_steps {config.MaxSteps}";
                });
            Assert.Empty(problems);
            Assert.Equal(new[] { "config.yaml" }, Directory.GetFiles(_dir).Select(Path.GetFileName));
        }

        [Fact]
        public void AFailedWriteLeavesNoTempFile()
        {
            var taken = Directory.CreateDirectory(Path.Combine(_dir, "taken")).FullName;
            Assert.ThrowsAny<Exception>(() => AtomicFile.WriteAllText(taken, "text"));
            Assert.Empty(Directory.GetFiles(_dir));
        }

        [Fact]
        public void ReadingAMissingFileGivesNull()
        {
            Assert.Null(AtomicFile.ReadAllText(Path.Combine(_dir, "none")));
            Assert.Null(AtomicFile.ReadAllText(Path.Combine(_dir, "no-folder", "none")));
        }

        /// <summary>
        /// Four writers and four readers for <see cref="Duration"/>; what went wrong (reader's findings, writers'
        /// exceptions), at most a few of each.
        /// </summary>
        private static List<string> Hammer(Action<int> write, Func<string?> read)
        {
            var problems = new ConcurrentQueue<string>();
            var deadline = DateTime.UtcNow + Duration;
            var writers = Enumerable.Range(1, 4).Select(w => Task.Run(() =>
            {
                while (DateTime.UtcNow < deadline)
                {
                    try
                    {
                        write(w);
                    }
                    catch (Exception e)
                    {
                        problems.Enqueue($"writer {w}: {e.GetType().Name}: {e.Message}");
                    }
                }
            }));
            var readers = Enumerable.Range(1, 4).Select(_ => Task.Run(() =>
            {
                while (DateTime.UtcNow < deadline)
                {
                    try
                    {
                        if (read() is string problem) problems.Enqueue(problem);
                    }
                    catch (Exception e)
                    {
                        problems.Enqueue($"reader: {e.GetType().Name}: {e.Message}");
                    }
                }
            }));
            Task.WaitAll(writers.Concat(readers).ToArray());
            return problems.Distinct().Take(5).ToList();
        }
    }
}
