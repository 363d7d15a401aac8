using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using SkiaSharp;
using XTuner.Core.Runs;
using XTuner.Training.Engine;
using XTuner.Training.Metrics;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Metrics
{
    /// <summary>loss.png of a run (at every checkpoint and at the end) and xtuner plot over several runs.</summary>
    [Collection(DistributedCollection.Name)]
    public sealed class LossPlotTests : IDisposable
    {
        // ScottPlot's first two line colours: the first run and the second.
        private static readonly SKColor First = SKColor.Parse("#1f77b4");
        private static readonly SKColor Second = SKColor.Parse("#ff7f0e");

        private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "xtuner-plot-" + Guid.NewGuid().ToString("N").Substring(0, 8))).FullName;

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        /// <summary>A work dir whose metrics.jsonl holds <paramref name="steps"/> steps of a falling loss.</summary>
        private string Run(string name, int steps, double scale = 1)
        {
            var work = Directory.CreateDirectory(Path.Combine(_dir, name)).FullName;
            for (int s = 1; s <= steps; s++)
                MetricsFile.Append(work, new XTunerStep { Step = s, TotalSteps = steps, Loss = scale * 6.0 / s, Lr = 1e-3 * s / steps, TokensPerSecondPerGpu = 1000 * scale + s });
            return work;
        }

        private static int Pixels(string png, SKColor colour)
        {
            using var bitmap = SKBitmap.Decode(png);
            int n = 0;
            for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var p = bitmap.GetPixel(x, y);
                if (Math.Abs(p.Red - colour.Red) + Math.Abs(p.Green - colour.Green) + Math.Abs(p.Blue - colour.Blue) < 30) n++;
            }
            return n;
        }

        [Fact]
        public void ARunIsDrawnIntoItsLossPngWithThreePanels()
        {
            var work = Run("one", 20);
            Assert.Null(LossPlot.TryWriteRun(work));
            var png = new WorkDirLayout(work).LossPlot;
            using (var bitmap = SKBitmap.Decode(png)) Assert.Equal((LossPlot.Width, LossPlot.Height), (bitmap.Width, bitmap.Height));
            Assert.True(Pixels(png, First) > 300, "the run's lines are drawn");
            Assert.Equal(0, Pixels(png, Second));
            Assert.False(File.Exists(png + ".tmp.png"));
        }

        [Fact]
        public void AWorkDirWithoutStepsIsAWarningNotAFailure()
        {
            var empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
            Assert.Contains("loss.png was not drawn: Nothing to plot", LossPlot.TryWriteRun(empty));
            Assert.False(File.Exists(new WorkDirLayout(empty).LossPlot));
        }

        [Fact]
        public void APictureWithoutFontsSaysWhatToInstall()
        {
            Assert.Null(LossPlot.FontWarning("/w/loss.png", 3));
            Assert.Equal("warning: /w/loss.png has no text: this machine has no fonts (on Debian or Ubuntu: apt-get install fonts-dejavu-core).",
                LossPlot.FontWarning("/w/loss.png", 0));
        }

        [Fact]
        public void TheReporterDrawsAtEveryCheckpointAndAtTheEnd()
        {
            var work = Directory.CreateDirectory(Path.Combine(_dir, "reported")).FullName;
            var console = new StringWriter();
            using var reporter = new RunReporter(work, console, events: false, loggingInterval: 1);
            var png = new WorkDirLayout(work).LossPlot;
            reporter.Step(new XTunerStep { Step = 1, TotalSteps = 4, Loss = 3, Lr = 1e-3, TokensPerSecondPerGpu = 100 });
            Assert.False(File.Exists(png));
            reporter.Checkpoint(Path.Combine(work, "checkpoints", "step-000001"));
            Assert.True(File.Exists(png));
            var first = File.GetLastWriteTimeUtc(png);
            reporter.Step(new XTunerStep { Step = 2, TotalSteps = 4, Loss = 2, Lr = 1e-3, TokensPerSecondPerGpu = 100 });
            System.Threading.Thread.Sleep(20);
            reporter.Done(Path.Combine(work, "hf"));
            Assert.True(File.GetLastWriteTimeUtc(png) > first);
            Assert.DoesNotContain("warning", console.ToString());
        }

        [Fact]
        public void XtunerPlotOverlaysSeveralRunsInOnePicture()
        {
            var sp1 = Run("sp1", 30);
            var sp4 = Run("sp4", 30, scale: 1.5);
            var output = Path.Combine(_dir, "compare.png");
            var result = RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() },
                TimeSpan.FromMinutes(1), "plot", sp1, sp4, "--output", output)[0];
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Equal(output, result.Output.Trim());
            Assert.True(Pixels(output, First) > 300 && Pixels(output, Second) > 300, "both runs are drawn");

            var missing = RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() },
                TimeSpan.FromMinutes(1), "plot", sp1, Path.Combine(_dir, "nothing"))[0];
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains("[XTunerRunNotFound]", missing.Error);
            Assert.Contains("has no metrics.jsonl", missing.Error);
        }
    }
}
