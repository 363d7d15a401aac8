using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using Xunit.Sdk;

namespace XTuner.Training.Tests.Distributed
{
    /// <summary>What one rank process did.</summary>
    internal sealed class RankResult
    {
        public int Rank { get; init; }
        public int ExitCode { get; init; }
        public string Output { get; init; } = "";
        public string Error { get; init; } = "";

        public override string ToString() => $"--- rank {Rank} exit {ExitCode}\n{Output}{Error}";
    }

    /// <summary>
    /// Starts ranks of a world as real processes of the built CLI (<c>dotnet bin/xtuner/xtuner.dll ...</c>) with
    /// torchrun's variables on loopback, waits for all of them, and kills every one it started if any outlives the
    /// timeout, so that a hang fails the test instead of the test run.
    /// </summary>
    internal static class RankProcesses
    {
        private static readonly string[] LauncherVariables =
            { "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT", "NPROC_PER_NODE", "NNODES", "NODE_RANK", "ADDR", "PORT" };

        public static string Cli { get; } = FindCli();

        /// <summary>Every rank of a world of <paramref name="worldSize"/>.</summary>
        public static IReadOnlyList<RankResult> RunWorld(int worldSize, TimeSpan timeout, params string[] args)
        {
            int port = FreePort.Next();
            return Run(Enumerable.Range(0, worldSize).ToDictionary(r => r, r => Torchrun(r, worldSize, port)), timeout, args);
        }

        /// <summary>torchrun's variables for a rank of a loopback world.</summary>
        public static Dictionary<string, string> Torchrun(int rank, int worldSize, int port) => new Dictionary<string, string>
        {
            ["RANK"] = rank.ToString(),
            ["WORLD_SIZE"] = worldSize.ToString(),
            ["LOCAL_RANK"] = rank.ToString(),
            ["LOCAL_WORLD_SIZE"] = worldSize.ToString(),
            ["MASTER_ADDR"] = "127.0.0.1",
            ["MASTER_PORT"] = port.ToString(),
        };

        /// <summary>One process per entry of <paramref name="environments"/> (rank to its variables), all with <paramref name="args"/>.</summary>
        public static IReadOnlyList<RankResult> Run(IReadOnlyDictionary<int, Dictionary<string, string>> environments, TimeSpan timeout, params string[] args)
        {
            var started = new List<(int Rank, Process Process, StringBuilder Output, StringBuilder Error)>();
            try
            {
                foreach (var (rank, variables) in environments)
                {
                    var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
                    {
                        RedirectStandardOutput = true,
                        RedirectStandardError = true,
                        UseShellExecute = false,
                    };
                    info.ArgumentList.Add(Cli);
                    foreach (var arg in args) info.ArgumentList.Add(arg);
                    foreach (var name in LauncherVariables.Concat(info.Environment.Keys.Where(k => k.StartsWith("SLURM_", StringComparison.Ordinal)).ToList()))
                        info.Environment.Remove(name);
                    foreach (var (name, value) in variables) info.Environment[name] = value;
                    var process = new Process { StartInfo = info };
                    var output = new StringBuilder();
                    var error = new StringBuilder();
                    process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
                    process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (error) error.AppendLine(e.Data); };
                    process.Start();
                    process.BeginOutputReadLine();
                    process.BeginErrorReadLine();
                    started.Add((rank, process, output, error));
                }
                var watch = Stopwatch.StartNew();
                foreach (var entry in started)
                {
                    var left = timeout - watch.Elapsed;
                    if (left < TimeSpan.Zero || !entry.Process.WaitForExit(left))
                        throw new XunitException($"rank {entry.Rank} was still running after {timeout.TotalSeconds} s; all ranks killed.\n" +
                                                 string.Join("\n", started.Select(s => $"--- rank {s.Rank}\n{s.Output}{s.Error}")));
                    entry.Process.WaitForExit(); // drains the redirected output
                }
                return started.Select(s => new RankResult
                {
                    Rank = s.Rank,
                    ExitCode = s.Process.ExitCode,
                    Output = s.Output.ToString(),
                    Error = s.Error.ToString(),
                }).ToList();
            }
            finally
            {
                foreach (var entry in started)
                {
                    if (!entry.Process.HasExited) entry.Process.Kill(entireProcessTree: true);
                    entry.Process.Dispose();
                }
            }
        }

        private static string FindCli()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                if (!File.Exists(Path.Combine(dir.FullName, "XTuner.sln"))) continue;
                var cli = Path.Combine(dir.FullName, "bin", "xtuner", "xtuner.dll");
                if (File.Exists(cli)) return cli;
                throw new InvalidOperationException($"{cli} is missing: build src/XTuner.Cli (the test project builds it first).");
            }
            throw new InvalidOperationException("XTuner.sln not found above " + AppContext.BaseDirectory);
        }
    }
}
