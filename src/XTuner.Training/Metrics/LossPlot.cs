using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ScottPlot;
using XTuner.Core.Runs;

namespace XTuner.Training.Metrics
{
    /// <summary>One run's steps under the name its plot shows.</summary>
    public sealed record PlottedRun(string Label, IReadOnlyList<XTunerStep> Steps);

    /// <summary>
    /// The picture of one or more runs: loss, learning rate and tokens/s per GPU against the optimizer step, one panel
    /// each, one line per run (so that SP 1 and SP 4 of the same recipe can be laid over each other).
    /// </summary>
    public static class LossPlot
    {
        public const int Width = 1000;
        public const int Height = 900;

        /// <summary>Draws <paramref name="runs"/> into the PNG file <paramref name="path"/> (written whole: a temporary file is renamed).</summary>
        public static void Write(IReadOnlyList<PlottedRun> runs, string title, string path)
        {
            if (runs.Count == 0 || runs.All(r => r.Steps.Count == 0))
                throw new ArgumentException("Nothing to plot: no run has a step in its metrics.jsonl yet.", nameof(runs));
            var multiplot = new Multiplot();
            multiplot.AddPlots(3);
            var panels = multiplot.GetPlots();
            Panel(panels[0], runs, s => s.Loss, "loss");
            Panel(panels[1], runs, s => s.Lr, "learning rate");
            Panel(panels[2], runs, s => s.TokensPerSecondPerGpu, "tokens/s per GPU");
            panels[0].Title(title);
            // One legend names the runs; with one run the title does.
            foreach (var panel in panels) panel.HideLegend();
            if (runs.Count > 1) panels[0].ShowLegend(Alignment.UpperRight);
            panels[2].XLabel("step");
            multiplot.SharedAxes.ShareX(panels);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            var temporary = path + ".tmp.png";
            multiplot.SavePng(temporary, Width, Height);
            if (File.Exists(path)) File.Delete(path);
            File.Move(temporary, path);
        }

        /// <summary>
        /// Draws the run in <paramref name="workDir"/> into its loss.png. A failure to draw, or a picture drawn without
        /// text, is returned as a warning line, not thrown: a picture never stops training. Null when all is well.
        /// </summary>
        public static string? TryWriteRun(string workDir)
        {
            var path = new WorkDirLayout(workDir).LossPlot;
            try
            {
                var run = Read(workDir);
                Write(new[] { run }, run.Label, path);
                return FontWarning(path, FontGlyphs);
            }
            catch (Exception e)
            {
                // Whatever the drawing library throws (a missing native library included): the run goes on.
                return $"warning: {path} was not drawn: {e.Message}";
            }
        }

        /// <summary>Glyphs of the default typeface: 0 on a machine without fonts, where Skia falls back to an empty one.</summary>
        public static int FontGlyphs => SkiaSharp.SKTypeface.Default.GlyphCount;

        /// <summary>What to say about <paramref name="path"/> when the machine has no fonts (a bare container): the lines are drawn, the text is not.</summary>
        public static string? FontWarning(string path, int glyphs) =>
            glyphs > 0 ? null
                : $"warning: {path} has no text: this machine has no fonts (on Debian or Ubuntu: apt-get install fonts-dejavu-core).";

        /// <summary>A work dir's steps, labelled with the run's name (its run.json, else the folder's name).</summary>
        public static PlottedRun Read(string workDir)
        {
            var name = XTunerRun.Load(workDir)?.Name;
            return new PlottedRun(string.IsNullOrEmpty(name) ? Path.GetFileName(Path.GetFullPath(workDir).TrimEnd('/', '\\')) : name!, MetricsFile.Read(workDir));
        }

        private static void Panel(Plot plot, IReadOnlyList<PlottedRun> runs, Func<XTunerStep, double> value, string label)
        {
            foreach (var run in runs.Where(r => r.Steps.Count > 0))
            {
                var line = plot.Add.ScatterLine(run.Steps.Select(s => (double)s.Step).ToArray(), run.Steps.Select(value).ToArray());
                line.LegendText = run.Label;
                line.LineWidth = 2;
            }
            plot.YLabel(label);
        }
    }
}
