using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;

namespace XTuner.Core.Slurm
{
    /// <summary>
    /// SLURM's client commands (sbatch, squeue, scontrol, scancel) as found on a search path, each run with a time
    /// limit. No accounting is assumed: job state comes from the controller (squeue, scontrol), never from sacct.
    /// </summary>
    public sealed class SlurmClient
    {
        private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);
        private readonly string _searchPath;

        /// <param name="searchPath">Folders to look for the commands in (PATH syntax); default: this process's PATH.</param>
        public SlurmClient(string? searchPath = null)
        {
            _searchPath = searchPath ?? Environment.GetEnvironmentVariable("PATH") ?? "";
        }

        /// <summary>The full path of a SLURM command.</summary>
        /// <exception cref="XTunerException">It is not on the search path (<see cref="ErrorIds.SlurmNotFound"/>).</exception>
        public string Find(string command) =>
            TryFind(command) ?? throw new XTunerException(ErrorIds.SlurmNotFound,
                $"'{command}' was not found on PATH: SLURM jobs are submitted from a machine with the SLURM client commands " +
                "(a cluster's login node; on Debian and Ubuntu the slurm-client package). Use -Launcher Local (xtuner train) to train on this machine.");

        /// <summary>Whether sbatch is on the search path.</summary>
        public bool IsAvailable => TryFind("sbatch") != null;

        private string? TryFind(string command) =>
            _searchPath.Split(Path.PathSeparator).Where(d => d.Length > 0)
                .Select(d => Path.Combine(d, command))
                .FirstOrDefault(File.Exists);

        /// <summary><c>sbatch --parsable SCRIPT</c>: the new job's id.</summary>
        /// <exception cref="XTunerException">sbatch refused the job (<see cref="ErrorIds.SlurmSubmitFailed"/>, with sbatch's
        /// own message), or is missing (<see cref="ErrorIds.SlurmNotFound"/>).</exception>
        public string Submit(string scriptPath, string workingDirectory)
        {
            var result = Run("sbatch", new[] { "--parsable", scriptPath }, workingDirectory, ErrorIds.SlurmSubmitFailed);
            // --parsable prints JOBID or JOBID;CLUSTER.
            var id = result.Output.Trim().Split(';')[0].Trim();
            if (result.ExitCode != 0 || id.Length == 0 || !id.All(char.IsDigit))
                throw new XTunerException(ErrorIds.SlurmSubmitFailed,
                    $"sbatch refused {scriptPath}: {Message(result)}");
            return id;
        }

        /// <summary>The controller's record of a job (<c>scontrol show job -o</c>); null once it has forgotten the job.</summary>
        public ScontrolRecord? ShowJob(string jobId)
        {
            var result = Run("scontrol", new[] { "show", "job", "-o", jobId }, null, ErrorIds.JobNotFound);
            if (result.ExitCode != 0)
            {
                if (result.Error.IndexOf("Invalid job id", StringComparison.OrdinalIgnoreCase) >= 0) return null;
                throw new XTunerException(ErrorIds.JobNotFound, $"scontrol could not show job {jobId}: {Message(result)}");
            }
            // A job array or heterogeneous job prints several records; the first is the one asked for.
            return ScontrolRecord.ParseAll(result.Output).FirstOrDefault();
        }

        /// <summary>Ids of this user's jobs that the controller still knows, in every state (<c>squeue --me</c>).</summary>
        public IReadOnlyList<string> MyJobIds()
        {
            var result = Run("squeue", new[] { "--me", "--states=all", "--noheader", "--format=%i" }, null, ErrorIds.JobNotFound);
            if (result.ExitCode != 0) throw new XTunerException(ErrorIds.JobNotFound, $"squeue failed: {Message(result)}");
            return result.Output.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        }

        /// <summary><c>scancel JOBID</c>.</summary>
        /// <exception cref="XTunerException">scancel refused (<see cref="ErrorIds.JobNotFound"/> for a job it does not know).</exception>
        public void Cancel(string jobId)
        {
            var result = Run("scancel", new[] { jobId }, null, ErrorIds.JobNotFound);
            if (result.ExitCode != 0)
                throw new XTunerException(ErrorIds.JobNotFound, $"scancel {jobId} failed: {Message(result)}");
        }

        private static string Message(CommandResult result)
        {
            var text = (result.Error.Trim() + "\n" + result.Output.Trim()).Trim();
            return text.Length > 0 ? text : $"exit code {result.ExitCode}";
        }

        private CommandResult Run(string command, IEnumerable<string> arguments, string? workingDirectory, string timeoutErrorId)
        {
            var info = new ProcessStartInfo(Find(command))
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                Arguments = ProcessArguments.Join(arguments),
            };
            if (workingDirectory != null) info.WorkingDirectory = workingDirectory;
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit((int)CommandTimeout.TotalMilliseconds))
            {
                process.Kill();
                throw new XTunerException(timeoutErrorId,
                    $"{command} did not answer within {CommandTimeout.TotalSeconds:0} s: is the SLURM controller up (sinfo, scontrol ping)?");
            }
            process.WaitForExit();
            return new CommandResult(process.ExitCode, output.Result, error.Result);
        }

        private sealed class CommandResult
        {
            public CommandResult(int exitCode, string output, string error)
            {
                ExitCode = exitCode;
                Output = output;
                Error = error;
            }

            public int ExitCode { get; }

            public string Output { get; }

            public string Error { get; }
        }
    }
}
