using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;

namespace XTuner.Training.Tests.Distributed
{
    /// <summary>
    /// A real process of the built CLI (a rank, or a launcher), started on its own so that a test can act on it while it
    /// runs (attack its ports, read its memory, signal it) and then see how it ended. Killed on dispose if still running.
    /// </summary>
    internal sealed class XTunerProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new StringBuilder();
        private readonly StringBuilder _error = new StringBuilder();

        private XTunerProcess(int rank, IReadOnlyDictionary<string, string> environment, string[] args, string[]? prefix = null)
        {
            var torchrun = new[] { "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT" };
            Rank = rank;
            var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
            var info = new ProcessStartInfo(prefix == null ? host : prefix[0])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            if (prefix != null)
            {
                foreach (var arg in prefix.Skip(1)) info.ArgumentList.Add(arg);
                info.ArgumentList.Add(host);
            }
            info.ArgumentList.Add(RankProcesses.Cli);
            foreach (var arg in args) info.ArgumentList.Add(arg);
            foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("SLURM_", StringComparison.Ordinal) || k.StartsWith("XTUNER_", StringComparison.Ordinal) || torchrun.Contains(k)).ToList())
                info.Environment.Remove(name);
            foreach (var (name, value) in environment) info.Environment[name] = value;
            _process = new Process { StartInfo = info };
            _process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_output) _output.AppendLine(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_error) _error.AppendLine(e.Data); };
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public int Rank { get; }

        public int ProcessId => _process.Id;

        public bool HasExited => _process.HasExited;

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        public string Error
        {
            get { lock (_error) return _error.ToString(); }
        }

        /// <summary>Rank <paramref name="rank"/> of a loopback world, with torchrun's variables plus <paramref name="extra"/>.</summary>
        public static XTunerProcess Start(int rank, int worldSize, int port, IReadOnlyDictionary<string, string>? extra, params string[] args)
        {
            var env = RankProcesses.Torchrun(rank, worldSize, port);
            if (extra != null) foreach (var (k, v) in extra) env[k] = v;
            return new XTunerProcess(rank, env, args);
        }

        /// <summary><c>xtuner ARGS</c> as a user starts it: no rank variables, so <c>xtuner train</c> is the launcher.</summary>
        public static XTunerProcess Launch(params string[] args) => new XTunerProcess(-1, new Dictionary<string, string>(), args);

        /// <summary>
        /// <see cref="Launch"/> through a command that execs the CLI in the same process (so <see cref="ProcessId"/> is
        /// the CLI's), such as <c>env --default-signal=HUP</c>: a signal's disposition comes from the parent, and a test
        /// started under nohup would otherwise hand its ignored SIGHUP on to the launcher.
        /// </summary>
        public static XTunerProcess LaunchVia(string[] prefix, params string[] args) => new XTunerProcess(-1, new Dictionary<string, string>(), args, prefix);

        /// <summary>The exit code once the process ended within <paramref name="timeout"/>; null while it runs.</summary>
        public int? WaitForExit(TimeSpan timeout)
        {
            if (!_process.WaitForExit((int)timeout.TotalMilliseconds)) return null;
            _process.WaitForExit();
            return _process.ExitCode;
        }

        /// <summary>Resident memory (VmRSS of /proc/PID/status).</summary>
        public long ResidentBytes()
        {
            var line = File.ReadAllLines($"/proc/{ProcessId}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }

        /// <summary>The TCP ports this process listens on, found the way an attacker on the host could, without asking the store.</summary>
        public IReadOnlyList<int> ListeningPorts() => ListeningSockets.Of(ProcessId).Select(e => e.Port).Distinct().OrderBy(p => p).ToList();

        /// <summary>Waits until the process listens on at least <paramref name="count"/> ports; false if it exits or the time runs out.</summary>
        public bool WaitForListeners(int count, TimeSpan timeout)
        {
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < timeout)
            {
                if (HasExited) return false;
                if (ListeningPorts().Count >= count) return true;
                Thread.Sleep(50);
            }
            return false;
        }

        public override string ToString() => $"--- {(Rank < 0 ? "xtuner" : "rank " + Rank)} (pid {ProcessId}{(HasExited ? $", exit {_process.ExitCode}" : ", running")})\n{Output}{Error}";

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // exited meanwhile
            }
            _process.Dispose();
        }
    }
}
