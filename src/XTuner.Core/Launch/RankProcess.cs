using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;

namespace XTuner.Core.Launch
{
    /// <summary>
    /// One rank: the process, its log file (stdout and stderr, line by line) and the last lines kept for error messages.
    /// A log that cannot be written (a full disk) is given up, not fatal: the lines still reach the tail, and
    /// <see cref="LogFailure"/> says why, for the launcher to act on.
    /// </summary>
    public sealed class RankProcess : IDisposable
    {
        private const int TailLines = 40;
        private readonly Process _process;
        private readonly StreamWriter _log;
        private readonly object _lock = new object();
        private readonly Queue<string> _tail = new Queue<string>();
        private readonly Action<RankProcess, string>? _onStdout;
        private int _openStreams = 2;

        public RankProcess(int rank, WorkerCommand worker, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment,
            string logPath, string workingDirectory, Action<RankProcess, string>? onStdout)
        {
            Rank = rank;
            LogPath = logPath;
            _onStdout = onStdout;
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
                _log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite), new UTF8Encoding(false)) { AutoFlush = true };
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new XTunerException(ErrorIds.WorkDirWriteFailed, $"Cannot write rank {rank}'s log {logPath}: {e.Message}", e);
            }
            var info = new ProcessStartInfo(worker.FileName)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = false,
                WorkingDirectory = workingDirectory,
                Arguments = ProcessArguments.Join(worker.With(arguments)),
            };
            foreach (var pair in environment) info.Environment[pair.Key] = pair.Value;
            _process = new Process { StartInfo = info, EnableRaisingEvents = true };
            _process.OutputDataReceived += (_, e) => OnLine(e.Data, stdout: true);
            _process.ErrorDataReceived += (_, e) => OnLine(e.Data, stdout: false);
        }

        public int Rank { get; }

        public string LogPath { get; }

        /// <summary>Why the log could not be written, once it could not (later lines are only kept in the tail).</summary>
        public Exception? LogFailure { get; private set; }

        public int ProcessId { get; private set; }

        private bool _started;

        public bool HasExited => _started && _process.HasExited && OutputClosed;

        /// <summary>Set once the process has exited and its output is fully read.</summary>
        public int? ExitCode => HasExited ? _process.ExitCode : (int?)null;

        private bool OutputClosed
        {
            get { lock (_lock) return _openStreams == 0; }
        }

        public void Start()
        {
            _process.Start();
            _started = true;
            ProcessId = _process.Id;
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        /// <summary>The last lines the rank printed (stdout and stderr).</summary>
        public string[] Tail()
        {
            lock (_lock) return _tail.ToArray();
        }

        /// <summary>Asks the rank to stop (SIGTERM); <see cref="Kill"/> if it does not.</summary>
        public void Terminate()
        {
            if (_started && !_process.HasExited && !ProcessSignals.Terminate(ProcessId)) Kill();
        }

        /// <summary>Sends the rank <paramref name="signal"/>; false when it has not started or has exited.</summary>
        public bool Signal(int signal) => _started && !_process.HasExited && ProcessSignals.Send(ProcessId, signal);

        public void Kill()
        {
            try
            {
                if (_started && !_process.HasExited) _process.Kill();
            }
            catch (InvalidOperationException)
            {
                // exited meanwhile
            }
        }

        public bool WaitForExit(TimeSpan timeout) =>
            !_started || (_process.WaitForExit((int)Math.Min(int.MaxValue, timeout.TotalMilliseconds)) && WaitForOutput(timeout));

        private bool WaitForOutput(TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (!OutputClosed)
            {
                if (DateTime.UtcNow > deadline) return false;
                System.Threading.Thread.Sleep(10);
            }
            return true;
        }

        private void OnLine(string? line, bool stdout)
        {
            if (line == null)
            {
                lock (_lock) _openStreams--;
                return;
            }
            // Events are for the launcher (progress bars); the log and the error tail keep what a person reads.
            if (!line.StartsWith(Runs.RunEvent.Prefix, StringComparison.Ordinal))
            {
                lock (_lock)
                {
                    if (LogFailure == null)
                    {
                        try
                        {
                            _log.WriteLine(line);
                        }
                        catch (Exception e) when (e is IOException || e is ObjectDisposedException)
                        {
                            // Runs on a thread of the process's output reader: an exception here would end the launcher.
                            LogFailure = e;
                        }
                    }
                    _tail.Enqueue(line);
                    while (_tail.Count > TailLines) _tail.Dequeue();
                }
            }
            if (stdout) _onStdout?.Invoke(this, line);
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
            lock (_lock)
            {
                try
                {
                    _log.Dispose();
                }
                catch (IOException)
                {
                    // The last buffered line could not be flushed: LogFailure said so already.
                }
            }
        }
    }
}
