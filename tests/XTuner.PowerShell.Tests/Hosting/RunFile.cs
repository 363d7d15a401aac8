using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;

namespace XTuner.PowerShell.Tests.Hosting
{
    /// <summary>
    /// A run's work_dir/run.json and its rank processes, read as a user's tool would (the tests do not reference the
    /// module's assemblies).
    /// </summary>
    public static class RunFile
    {
        /// <summary>The run's state (Starting, Running, Completed, Failed, Stopped), or null before run.json exists.</summary>
        public static string? State(string workDir) => Read(workDir, run => run.GetProperty("state").GetString());

        public static IReadOnlyList<int> RankPids(string workDir) =>
            Read(workDir, run => run.GetProperty("ranks").EnumerateArray().Select(r => r.GetProperty("pid").GetInt32()).ToList()) ?? new List<int>();

        /// <summary>The rank pids once the run is Running with <paramref name="count"/> ranks alive.</summary>
        public static IReadOnlyList<int> WaitForRanks(string workDir, int count, TimeSpan? timeout = null)
        {
            var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
            while (DateTime.UtcNow < deadline)
            {
                var pids = RankPids(workDir).Where(IsAlive).ToList();
                if (State(workDir) == "Running" && pids.Count == count) return pids;
                Thread.Sleep(50);
            }
            throw new TimeoutException($"No run with {count} live ranks in {workDir} (state {State(workDir) ?? "none"}).");
        }

        /// <summary>Whether the process exists and has not exited (a zombie has; Linux /proc).</summary>
        public static bool IsAlive(int pid)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                return stat[stat.LastIndexOf(')') + 2] != 'Z';
            }
            catch (IOException)
            {
                return false;
            }
        }

        private static T? Read<T>(string workDir, Func<JsonElement, T> select)
        {
            var path = Path.Combine(workDir, "run.json");
            if (!File.Exists(path)) return default;
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return select(doc.RootElement);
        }
    }
}
