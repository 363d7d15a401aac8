using System;
using System.Diagnostics;
using System.Text;
using XTuner.Training.Tests.Distributed;
using Xunit.Sdk;

namespace XTuner.Training.Tests.Cli
{
    /// <summary>The built xtuner CLI as a background process, for tests that act on it while it runs (kill it, hold a lock it wants).</summary>
    internal sealed class CliProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new StringBuilder();

        public CliProcess(params string[] args)
        {
            var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            info.ArgumentList.Add(RankProcesses.Cli);
            foreach (var arg in args) info.ArgumentList.Add(arg);
            _process = new Process { StartInfo = info };
            _process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_output) _output.AppendLine(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_output) _output.AppendLine(e.Data); };
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        /// <summary>stdout and stderr so far.</summary>
        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        public bool HasExited => _process.HasExited;

        /// <summary>The exit code; a test failure (with the output) if it runs past <paramref name="timeout"/>.</summary>
        public int WaitForExit(TimeSpan timeout)
        {
            if (!_process.WaitForExit((int)timeout.TotalMilliseconds))
                throw new XunitException($"xtuner was still running after {timeout.TotalSeconds} s:\n{Output}");
            _process.WaitForExit();
            return _process.ExitCode;
        }

        public void Kill()
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        public void Dispose()
        {
            if (!_process.HasExited) Kill();
            _process.Dispose();
        }
    }
}
