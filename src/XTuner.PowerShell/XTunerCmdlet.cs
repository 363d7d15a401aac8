using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using XTuner.Core;
using XTuner.Core.Configuration;

namespace XTuner.PowerShell
{
    /// <summary>What every XTuner cmdlet shares: paths against the PowerShell location, and errors with stable ids.</summary>
    public abstract class XTunerCmdlet : PSCmdlet
    {
        /// <summary>PowerShell's current file-system location (not the process's working directory).</summary>
        protected string CurrentDirectory => SessionState.Path.CurrentFileSystemLocation.ProviderPath;

        /// <summary>Relative paths in a config resolve against its file's folder, else the current location.</summary>
        protected string BaseDirectoryOf(XTunerConfig config) =>
            config.SourcePath != null ? Path.GetDirectoryName(config.SourcePath)! : CurrentDirectory;

        /// <summary>A PowerShell path (relative, ~, PSDrive) as a file-system path; the target need not exist.</summary>
        protected string ResolvePath(string path) => GetUnresolvedProviderPathFromPSPath(path);

        protected void WriteConfigError(XTunerConfigException e, object? target) =>
            WriteError(new ErrorRecord(e, e.ErrorId, CategoryOf(e.ErrorId), target));

        /// <summary>A Core failure as an error record under its own id.</summary>
        internal static ErrorRecord RecordOf(XTunerException e, object? target) => new ErrorRecord(e, e.ErrorId, CategoryOf(e.ErrorId), target);

        protected void WriteWarnings(IEnumerable<ConfigFinding> findings)
        {
            foreach (var w in findings.Where(f => f.Severity == FindingSeverity.Warning))
                WriteWarning(w.ToString());
        }

        protected static ErrorCategory CategoryOf(string errorId)
        {
            switch (errorId)
            {
                case ErrorIds.ConfigNotFound:
                case ErrorIds.ConfigFileNotFound:
                case ErrorIds.PathNotFound:
                case ErrorIds.ModelNotFound:
                case ErrorIds.RunNotFound:
                case ErrorIds.JobNotFound:
                case ErrorIds.WorkerNotFound:
                case ErrorIds.SlurmNotFound:
                    return ErrorCategory.ObjectNotFound;
                case ErrorIds.ConfigFileExists:
                    return ErrorCategory.ResourceExists;
                case ErrorIds.RunNotStoppable:
                    return ErrorCategory.InvalidOperation;
                case ErrorIds.RankFailed:
                case ErrorIds.JobFailed:
                case ErrorIds.SlurmSubmitFailed:
                    return ErrorCategory.InvalidResult;
                case ErrorIds.RendezvousTimeout:
                    return ErrorCategory.OperationTimeout;
                default:
                    return ErrorCategory.InvalidArgument;
            }
        }

        /// <summary>Throws a terminating error with a stable id.</summary>
        protected void Fail(string errorId, string message, object? target, Exception? inner = null) =>
            ThrowTerminatingError(new ErrorRecord(inner == null ? new InvalidOperationException(message) : new InvalidOperationException(message, inner),
                errorId, CategoryOf(errorId), target));
    }
}
