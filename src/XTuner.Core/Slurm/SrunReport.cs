using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;

namespace XTuner.Core.Slurm
{
    /// <summary>A task (rank) that srun reported as ended badly.</summary>
    public sealed class SrunTaskFailure
    {
        public SrunTaskFailure(int rank, string host, string description, int? exitCode)
        {
            Rank = rank;
            Host = host;
            Description = description;
            ExitCode = exitCode;
        }

        public int Rank { get; }

        public string Host { get; }

        /// <summary>srun's words: <c>Exited with exit code 3</c>, <c>Killed</c>, <c>Segmentation fault</c>.</summary>
        public string Description { get; }

        public int? ExitCode { get; }
    }

    /// <summary>
    /// Reads what srun wrote to the batch script's error output about its tasks
    /// (<c>srun: error: HOST: task 1: Exited with exit code 3</c>) to tell which rank failed first.
    /// </summary>
    public static class SrunReport
    {
        private static readonly Regex TaskLine = new Regex(
            @"^srun: error: (?<host>[^:\s]+): tasks? (?<tasks>[0-9][0-9,\-]*): (?<what>.+?)\s*$", RegexOptions.CultureInvariant);

        private static readonly Regex ExitCodeText = new Regex(@"exit code (?<code>[0-9]+)", RegexOptions.CultureInvariant);

        /// <summary>
        /// The rank that failed in the latest start of the job (the text after the last <see cref="SbatchScript.StartMarker"/>
        /// line), or null when srun reported none. Ranks that srun terminated because another failed come last.
        /// </summary>
        public static SrunTaskFailure? FirstFailure(string errorOutput)
        {
            var lines = errorOutput.Replace("\r", "").Split('\n');
            int start = Array.FindLastIndex(lines, l => l.StartsWith(SbatchScript.StartMarker, StringComparison.Ordinal));
            var failures = new List<SrunTaskFailure>();
            foreach (var line in lines.Skip(start + 1))
            {
                var m = TaskLine.Match(line);
                if (!m.Success) continue;
                var what = m.Groups["what"].Value;
                var code = ExitCodeText.Match(what);
                failures.Add(new SrunTaskFailure(FirstTask(m.Groups["tasks"].Value), m.Groups["host"].Value, what,
                    code.Success ? int.Parse(code.Groups["code"].Value, CultureInfo.InvariantCulture) : (int?)null));
            }
            return failures.FirstOrDefault(f => f.Description != "Terminated") ?? failures.FirstOrDefault();
        }

        private static int FirstTask(string tasks)
        {
            var first = tasks.Split(',')[0].Split('-')[0];
            return int.Parse(first, CultureInfo.InvariantCulture);
        }
    }
}
