using System;
using System.Globalization;
using System.IO;
using XTuner.Core.Datasets;
using XTuner.Core.Runs;
using XTuner.Training.Data;
using XTuner.Training.Metrics;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// Rank 0's outputs: a console line every logging interval, every step to metrics.jsonl and TensorBoard, and,
    /// for a launcher that asked (XTUNER_EVENTS=1), structured events on stdout; the same for the data's preparation.
    /// </summary>
    public sealed class RunReporter : IDisposable, IDataPreparationListener
    {
        private static readonly TimeSpan DataLogInterval = TimeSpan.FromSeconds(10);

        private readonly string _workDir;
        private readonly TextWriter _console;
        private readonly bool _events;
        private readonly int _loggingInterval;
        private readonly TensorBoardWriter _tensorBoard;
        private readonly System.Diagnostics.Stopwatch _dataClock = System.Diagnostics.Stopwatch.StartNew();
        private TimeSpan? _lastDataLine;

        public RunReporter(string workDir, TextWriter console, bool events, int loggingInterval)
        {
            _workDir = workDir;
            _console = console;
            _events = events;
            _loggingInterval = Math.Max(1, loggingInterval);
            Directory.CreateDirectory(workDir);
            _tensorBoard = new TensorBoardWriter(new WorkDirLayout(workDir).TensorBoard);
        }

        public void Info(string line) => _console.WriteLine(line);

        public void Warning(string message) => _console.WriteLine("warning: " + message);

        /// <summary>Every report as an event (the progress bar); a log line every 10 seconds and at the end.</summary>
        public void Progress(DataProgress progress)
        {
            if (_events) _console.WriteLine(new RunEvent { Kind = "data", Data = progress }.ToLine());
            if (progress.Phase == DataPhase.Done || _lastDataLine == null || _dataClock.Elapsed - _lastDataLine >= DataLogInterval)
            {
                _lastDataLine = _dataClock.Elapsed;
                _console.WriteLine("data: " + progress.Summary());
            }
        }

        public void Started(int totalSteps, int startStep)
        {
            if (_events) _console.WriteLine(new RunEvent { Kind = "start", TotalSteps = totalSteps, Message = startStep > 0 ? $"resumed at step {startStep}" : null }.ToLine());
        }

        public void Step(XTunerStep s)
        {
            MetricsFile.Append(_workDir, s);
            _tensorBoard.Scalar("train/loss", s.Loss, s.Step);
            _tensorBoard.Scalar("train/lr", s.Lr, s.Step);
            _tensorBoard.Scalar("train/grad_norm", s.GradNorm, s.Step);
            _tensorBoard.Scalar("train/tokens_per_sec_per_gpu", s.TokensPerSecondPerGpu, s.Step);
            _tensorBoard.Scalar("train/max_memory_gib", s.MaxMemoryGib, s.Step);
            if (s.Mfu is double mfu) _tensorBoard.Scalar("train/mfu", mfu, s.Step);
            if (_events) _console.WriteLine(new RunEvent { Kind = "step", Metrics = s, TotalSteps = s.TotalSteps }.ToLine());
            if (s.Step == 1 || s.Step % _loggingInterval == 0 || s.Step == s.TotalSteps)
                _console.WriteLine(s.LogLine());
        }

        public void Checkpoint(string path)
        {
            _console.WriteLine($"checkpoint saved: {path}");
            if (LossPlot.TryWriteRun(_workDir) is string warning) _console.WriteLine(warning);
            if (_events) _console.WriteLine(new RunEvent { Kind = "checkpoint", Path = path }.ToLine());
        }

        /// <summary>The run ended after <paramref name="step"/> on request, with the checkpoint at <paramref name="checkpoint"/> to resume from.</summary>
        public void Stopped(int step, int totalSteps, string checkpoint)
        {
            _console.WriteLine($"stopped on request after step {step} of {totalSteps}; resume from the checkpoint with --resume (Start-XTunerTraining -Resume)");
            if (_events) _console.WriteLine(new RunEvent { Kind = RunEvent.StoppedKind, Path = checkpoint, TotalSteps = totalSteps, Message = $"stopped after step {step}" }.ToLine());
        }

        public void Done(string modelDirectory)
        {
            _console.WriteLine($"training finished; Hugging Face model written to {modelDirectory}");
            if (LossPlot.TryWriteRun(_workDir) is string warning) _console.WriteLine(warning);
            if (_events) _console.WriteLine(new RunEvent { Kind = "done", Path = modelDirectory }.ToLine());
        }

        public void Dispose() => _tensorBoard.Dispose();
    }
}
