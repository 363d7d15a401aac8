using System;
using System.Diagnostics;
using System.IO;
using XTuner.Core.Datasets;
using XTuner.Core.Runs;
using XTuner.Training.Data;

namespace XTuner.Cli
{
    /// <summary>
    /// xtuner prepare-data's progress bar: one line rewritten in place on a terminal, a line every 10 seconds in a log,
    /// or (--events) a structured event per report for the cmdlet that started this process.
    /// </summary>
    internal sealed class DataProgressConsole : IDataPreparationListener
    {
        private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

        private readonly TextWriter _output;
        private readonly bool _events;
        private readonly bool _terminal;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private TimeSpan? _lastLine;
        private int _barWidth;

        public DataProgressConsole(TextWriter output, bool events)
        {
            _output = output;
            _events = events;
            _terminal = !events && ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        }

        public void Progress(DataProgress progress)
        {
            if (_events)
            {
                _output.WriteLine(new RunEvent { Kind = "data", Data = progress }.ToLine());
                return;
            }
            var line = "data: " + progress.Summary();
            if (_terminal)
            {
                // Padding wipes what a longer earlier line left; the bar ends with its final report.
                _output.Write("\r" + line.PadRight(_barWidth));
                _barWidth = Math.Max(_barWidth, line.Length);
                if (progress.Phase == DataPhase.Done) EndBar();
                return;
            }
            if (progress.Phase == DataPhase.Done || _lastLine == null || _clock.Elapsed - _lastLine >= LogInterval)
            {
                _lastLine = _clock.Elapsed;
                _output.WriteLine(line);
            }
        }

        public void Info(string message)
        {
            EndBar();
            _output.WriteLine(message);
        }

        public void Warning(string message)
        {
            EndBar();
            _output.WriteLine("warning: " + message);
        }

        private void EndBar()
        {
            if (_barWidth == 0) return;
            _output.WriteLine();
            _barWidth = 0;
        }
    }
}
