using System;
using System.Diagnostics;
using XTuner.Core.Slurm;
using Xunit;
using Xunit.Sdk;

namespace XTuner.Core.Tests.Slurm
{
    /// <summary>
    /// The SLURM cluster the tests submit to (.ci/slurm-setup.sh starts a one-node one). Without one, SLURM tests are
    /// skipped with the reason, except in CI (CI=true), where they run and fail: a cluster that did not come up is a
    /// CI failure, not a reason to pass.
    /// </summary>
    internal static class SlurmCluster
    {
        public const string Setup = "run .ci/slurm-setup.sh as root to start a one-node cluster";

        public static bool InCi => Environment.GetEnvironmentVariable("CI") == "true";

        /// <summary>Why no cluster can take jobs here; null when one can.</summary>
        public static string? Problem => LazyProblem.Value;

        private static readonly Lazy<string?> LazyProblem = new Lazy<string?>(Check);

        public static void Require()
        {
            if (Problem != null) throw new XunitException($"SLURM is not set up ({Problem}): {Setup}.");
        }

        /// <summary>Runs a SLURM command (scontrol requeue, salloc ...) and returns its output and error text.</summary>
        public static (int ExitCode, string Output) Run(string command, string arguments, int timeoutMs = 30000)
        {
            var info = new ProcessStartInfo(command, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(info)!;
            var output = p.StandardOutput.ReadToEndAsync();
            var error = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeoutMs))
            {
                p.Kill();
                throw new XunitException($"{command} {arguments} did not finish within {timeoutMs} ms");
            }
            p.WaitForExit();
            return (p.ExitCode, output.Result + error.Result);
        }

        private static string? Check()
        {
            if (!new SlurmClient().IsAvailable) return "sbatch is not on PATH";
            try
            {
                var (code, output) = Run("sinfo", "--noheader --format=%T", 10000);
                var state = output.Trim();
                return code == 0 && (state.StartsWith("idle") || state.StartsWith("mixed") || state.StartsWith("alloc"))
                    ? null
                    : $"sinfo says '{state}' (exit code {code})";
            }
            catch (Exception e) when (e is XunitException || e is System.ComponentModel.Win32Exception)
            {
                return "sinfo did not answer: " + e.Message;
            }
        }
    }

    /// <summary>A test that submits real SLURM jobs; skipped with the reason when no cluster is set up, outside CI.</summary>
    public sealed class SlurmFactAttribute : FactAttribute
    {
        public SlurmFactAttribute()
        {
            if (SlurmCluster.Problem != null && !SlurmCluster.InCi)
                Skip = $"Needs a SLURM cluster ({SlurmCluster.Problem}): {SlurmCluster.Setup}. In CI (CI=true) this test fails instead.";
        }
    }
}
