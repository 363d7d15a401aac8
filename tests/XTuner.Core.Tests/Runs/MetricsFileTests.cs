using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using XTuner.Core.Runs;
using XTuner.Core.Slurm;
using Xunit;

namespace XTuner.Core.Tests.Runs
{
    /// <summary>metrics.jsonl as pollers read it: the last step, from the end of a file that grows as it is read.</summary>
    public class MetricsFileTests : IDisposable
    {
        private readonly string _dir = TempDir.Create();

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        private string MetricsPath => new WorkDirLayout(_dir).Metrics;

        private static string Line(int step) => MetricsFile.Serialize(new XTunerStep { Step = step, TotalSteps = 100, Loss = 1.0 / step }) + "\n";

        [Fact]
        public void TheLastStepOfALargeFileIsReadFromItsEnd()
        {
            // 4 GiB of NULs (sparse: no disk used) before the steps: reading the file from the start would take minutes.
            using (var stream = new FileStream(MetricsPath, FileMode.CreateNew))
            {
                stream.SetLength(4L << 30);
                stream.Position = stream.Length;
                var steps = Encoding.UTF8.GetBytes("\n" + string.Concat(Enumerable.Range(1, 5000).Select(Line)));
                stream.Write(steps, 0, steps.Length);
            }
            var watch = Stopwatch.StartNew();
            var last = MetricsFile.ReadLast(_dir);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"ReadLast took {watch.Elapsed}");
            Assert.Equal(5000, last!.Step);
            Assert.Equal(1.0 / 5000, last.Loss);
        }

        [Fact]
        public void ALineStillBeingWrittenIsSkipped()
        {
            File.WriteAllText(MetricsPath, Line(1) + Line(2) + Line(3) + "{\"step\":4,\"tot");
            Assert.Equal(3, MetricsFile.ReadLast(_dir)!.Step);
            // Even when what is there so far happens to parse: only the newline says the line is whole.
            File.WriteAllText(MetricsPath, Line(1) + Line(2) + Line(3).TrimEnd('\n'));
            Assert.Equal(2, MetricsFile.ReadLast(_dir)!.Step);
        }

        [Theory]
        [InlineData(1)]
        [InlineData(2)]
        [InlineData(7)]
        [InlineData(64)]
        [InlineData(65536)]
        public void LinesThatSpanBlocksAreReadWhole(int blockSize)
        {
            var crlf = Line(2).Replace("\n", "\r\n");
            var unicode = "{\"step\":3,\"note\":\"ünïcödé ✓ spans blocks\",\"loss\":0.5}\n";
            File.WriteAllText(MetricsPath, Line(1) + crlf + unicode + "\n" + "not json\n" + "{\"step\":5,");
            var last = MetricsFile.ReadLast(_dir, blockSize)!;
            Assert.Equal((3, 0.5), (last.Step, last.Loss));
            File.WriteAllText(MetricsPath, Line(1) + crlf);
            Assert.Equal(2, MetricsFile.ReadLast(_dir, blockSize)!.Step);
            File.WriteAllText(MetricsPath, Line(1));
            Assert.Equal(1, MetricsFile.ReadLast(_dir, blockSize)!.Step);
        }

        [Fact]
        public void NoFileOrNoCompleteStepGivesNull()
        {
            Assert.Null(MetricsFile.ReadLast(_dir));
            File.WriteAllText(MetricsPath, "");
            Assert.Null(MetricsFile.ReadLast(_dir));
            File.WriteAllText(MetricsPath, "{\"step\":1,");
            Assert.Null(MetricsFile.ReadLast(_dir));
            File.WriteAllText(MetricsPath, "\n\nnot json\n");
            Assert.Null(MetricsFile.ReadLast(_dir));
        }

        [Fact]
        public void RunsAndJobsTakeTheirLastStepFromTheEnd()
        {
            new XTunerRun { WorkDir = _dir, State = RunState.Completed }.Save();
            new XTunerJob { JobId = "5", WorkDir = _dir, State = SlurmJobState.Completed }.Save();
            File.WriteAllText(MetricsPath, Line(1) + Line(2) + Line(3).TrimEnd('\n'));
            Assert.Equal(2, XTunerRun.Load(_dir)!.Step);
            Assert.Equal(2, XTunerJob.Load(_dir)!.Step);
            Assert.Equal(2, SlurmJobs.Refresh(new XTunerJob { JobId = "5", WorkDir = _dir, State = SlurmJobState.Completed }).Step);
        }

        [Fact]
        public void ItAgreesWithReadingTheWholeFile()
        {
            for (int step = 1; step <= 300; step++) MetricsFile.Append(_dir, new XTunerStep { Step = step, TotalSteps = 300, Loss = 10.0 / step });
            var all = MetricsFile.Read(_dir);
            Assert.Equal(MetricsFile.Serialize(all.Last()), MetricsFile.Serialize(MetricsFile.ReadLast(_dir, 100)!));
        }
    }
}
