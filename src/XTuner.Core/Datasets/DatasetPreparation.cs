using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text.RegularExpressions;
using System.Threading;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Core.Runs;

namespace XTuner.Core.Datasets
{
    /// <summary>
    /// <c>xtuner prepare-data</c> run for a prepared config in a process of its own (tokenizers live in the worker, not
    /// in PowerShell): its progress, warnings and log lines arrive as <see cref="Messages"/>, the prepared dataset as
    /// <see cref="Result"/>. Disposing stops the process if it still runs.
    /// </summary>
    public sealed class DatasetPreparation : IDisposable
    {
        private static readonly Regex ErrorLine = new Regex(@"error \[(?<id>XTuner\w+)\]: (?<message>.*)$");

        private readonly Process _process;
        private readonly string _configPath;
        private readonly BlockingCollection<DatasetPreparationMessage> _messages = new BlockingCollection<DatasetPreparationMessage>();
        private readonly List<string> _errors = new List<string>();
        private readonly object _lock = new object();
        private int _openStreams = 2;
        private string? _folder;
        private bool _reused;

        /// <param name="config">A config prepared by <see cref="LaunchPlanner.Prepare"/> (absolute paths, work dir set).</param>
        /// <param name="rebuild">Build anew over a valid cache.</param>
        /// <param name="threads">Tokenizing threads, or null for every core.</param>
        /// <param name="worker">The xtuner worker; null finds it.</param>
        public DatasetPreparation(XTunerConfig config, bool rebuild, int? threads, WorkerCommand? worker = null)
        {
            _configPath = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"xtuner-prepare-{Guid.NewGuid():N}.yaml");
            ConfigYaml.Save(config, _configPath);
            var arguments = new List<string> { "prepare-data", _configPath, "--events" };
            if (rebuild) arguments.Add("--rebuild");
            if (threads is int t) arguments.AddRange(new[] { "--threads", t.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            var command = worker ?? WorkerLocator.Find();
            var info = new ProcessStartInfo(command.FileName)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                Arguments = ProcessArguments.Join(command.With(arguments)),
            };
            foreach (var pair in LaunchPlanner.PassedThroughEnvironment()) info.Environment[pair.Key] = pair.Value;
            _process = new Process { StartInfo = info };
            _process.OutputDataReceived += (_, e) => OnLine(e.Data, stdout: true);
            _process.ErrorDataReceived += (_, e) => OnLine(e.Data, stdout: false);
        }

        /// <summary>Progress, warnings and log lines in order; ends when the process has exited.</summary>
        public IEnumerable<DatasetPreparationMessage> Messages(CancellationToken cancel) => _messages.GetConsumingEnumerable(cancel);

        public void Start()
        {
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        /// <summary>Waits for the process; the dataset it prepared, or its error under the error's own id.</summary>
        public XTunerDataset Result()
        {
            _process.WaitForExit();
            if (_process.ExitCode == 0 && _folder != null)
                return XTunerDataset.Load(_folder, _reused);
            lock (_lock)
            {
                foreach (var line in _errors)
                {
                    var match = ErrorLine.Match(line);
                    if (match.Success) throw new XTunerException(match.Groups["id"].Value, match.Groups["message"].Value);
                }
                throw new XTunerException(ErrorIds.DataPreparationFailed,
                    $"xtuner prepare-data exited with code {_process.ExitCode}: {string.Join(Environment.NewLine, _errors)}");
            }
        }

        /// <summary>Stops the worker (Ctrl+C): a cache it was building is left unfinished, never taken for complete.</summary>
        public void Stop()
        {
            try
            {
                if (!_process.HasExited && !ProcessSignals.Terminate(_process.Id)) _process.Kill();
                if (!_process.WaitForExit(5000)) _process.Kill();
            }
            catch (InvalidOperationException)
            {
                // Not started, or exited meanwhile.
            }
        }

        public void Dispose()
        {
            Stop();
            try
            {
                // Its output is read on other threads: let them finish before the queue they write to goes.
                _process.WaitForExit();
            }
            catch (InvalidOperationException)
            {
                // Never started.
            }
            _process.Dispose();
            _messages.Dispose();
            if (File.Exists(_configPath)) File.Delete(_configPath);
        }

        private void OnLine(string? line, bool stdout)
        {
            if (line == null)
            {
                lock (_lock)
                {
                    if (--_openStreams == 0) _messages.CompleteAdding();
                }
                return;
            }
            if (!stdout)
            {
                lock (_lock) _errors.Add(line);
                _messages.Add(new DatasetPreparationMessage(DatasetPreparationMessageKind.Line, line, null));
                return;
            }
            if (RunEvent.TryParse(line) is RunEvent e)
            {
                if (e.Kind == "data" && e.Data != null)
                    _messages.Add(new DatasetPreparationMessage(DatasetPreparationMessageKind.Progress, null, e.Data));
                else if (e.Kind == "done")
                {
                    _folder = e.Path;
                    _reused = e.Message == "reused";
                }
                return;
            }
            var kind = line.StartsWith("warning: ", StringComparison.Ordinal) ? DatasetPreparationMessageKind.Warning : DatasetPreparationMessageKind.Line;
            _messages.Add(new DatasetPreparationMessage(kind, kind == DatasetPreparationMessageKind.Warning ? line.Substring(9) : line, null));
        }
    }

    /// <summary>What <see cref="DatasetPreparation.Messages"/> carries.</summary>
    public enum DatasetPreparationMessageKind
    {
        Progress,
        Warning,
        Line,
    }

    /// <summary>A progress report, a warning or a log line of xtuner prepare-data.</summary>
    public sealed class DatasetPreparationMessage
    {
        public DatasetPreparationMessage(DatasetPreparationMessageKind kind, string? text, DataProgress? progress)
        {
            Kind = kind;
            Text = text;
            Progress = progress;
        }

        public DatasetPreparationMessageKind Kind { get; }

        public string? Text { get; }

        public DataProgress? Progress { get; }
    }
}
