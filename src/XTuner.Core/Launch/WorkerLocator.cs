using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace XTuner.Core.Launch
{
    /// <summary>How to start the <c>xtuner</c> worker: a program and the arguments that precede the command.</summary>
    public sealed class WorkerCommand
    {
        public WorkerCommand(string fileName, IReadOnlyList<string> leadingArguments)
        {
            FileName = fileName;
            LeadingArguments = leadingArguments;
        }

        public string FileName { get; }

        /// <summary>e.g. the path of xtuner.dll when started through <c>dotnet</c>.</summary>
        public IReadOnlyList<string> LeadingArguments { get; }

        public IEnumerable<string> With(IEnumerable<string> arguments) => LeadingArguments.Concat(arguments);

        public override string ToString() => string.Join(" ", new[] { FileName }.Concat(LeadingArguments).Select(Quote));

        public static string Quote(string s) =>
            s.Length > 0 && s.All(c => char.IsLetterOrDigit(c) || "/._-=:,+@%".IndexOf(c) >= 0) ? s : "'" + s.Replace("'", "'\\''") + "'";
    }

    /// <summary>
    /// Finds the xtuner worker: <c>XTUNER_WORKER</c> (a path to xtuner.dll or an executable), else the
    /// <c>xtuner</c> folder beside the calling assembly (the module's bin/xtuner), else <c>xtuner</c> on PATH.
    /// </summary>
    public static class WorkerLocator
    {
        public const string EnvironmentVariable = "XTUNER_WORKER";

        public static WorkerCommand Find(string? besideDirectory = null)
        {
            var candidates = new List<string>();
            var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrEmpty(fromEnv)) candidates.Add(fromEnv!);
            var beside = besideDirectory ?? Path.GetDirectoryName(typeof(WorkerLocator).Assembly.Location) ?? "";
            candidates.Add(Path.Combine(beside, "xtuner", "xtuner.dll"));
            candidates.Add(Path.Combine(beside, "xtuner.dll"));
            foreach (var c in candidates)
            {
                if (c.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && File.Exists(c))
                    return new WorkerCommand(DotnetHost(), new[] { Path.GetFullPath(c) });
                if (!c.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && File.Exists(c))
                    return new WorkerCommand(Path.GetFullPath(c), Array.Empty<string>());
            }
            var onPath = FindOnPath("xtuner");
            if (onPath != null) return new WorkerCommand(onPath, Array.Empty<string>());
            throw new XTunerException(ErrorIds.WorkerNotFound,
                $"The xtuner worker was not found (looked at {string.Join(", ", candidates)} and PATH). Build the solution (dotnet build) or set {EnvironmentVariable} to xtuner.dll.");
        }

        /// <summary>The dotnet host: DOTNET_HOST_PATH, DOTNET_ROOT/dotnet, or dotnet on PATH.</summary>
        public static string DotnetHost()
        {
            var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
            if (!string.IsNullOrEmpty(host) && File.Exists(host)) return host!;
            var root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
            if (!string.IsNullOrEmpty(root) && File.Exists(Path.Combine(root!, "dotnet"))) return Path.Combine(root!, "dotnet");
            return FindOnPath("dotnet") ?? "dotnet";
        }

        private static string? FindOnPath(string name) =>
            (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator)
            .Where(d => d.Length > 0)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);
    }
}
