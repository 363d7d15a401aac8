using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using XTuner.Core;
using XTuner.Core.Configuration;

namespace XTuner.PowerShell
{
    /// <summary>
    /// What every XTuner cmdlet shares: paths against the PowerShell location, and the one place where a Core failure
    /// (<see cref="XTunerException"/>) becomes an error record under its ErrorId and category. Cmdlets implement
    /// <see cref="ProcessInput"/> and throw; they never build error records themselves.
    /// </summary>
    public abstract class XTunerCmdlet : PSCmdlet
    {
        /// <summary>PowerShell's current file-system location (not the process's working directory).</summary>
        protected string CurrentDirectory => SessionState.Path.CurrentFileSystemLocation.ProviderPath;

        /// <summary>
        /// What the current input is about, for the TargetObject of an error that escapes <see cref="ProcessInput"/>:
        /// set as it becomes known (a config, then its work dir); null again for each input.
        /// </summary>
        protected object? ErrorTarget { get; set; }

        /// <summary>Whether an error that escapes <see cref="ProcessInput"/> stops the pipeline (default: it is written and the next input runs).</summary>
        protected virtual bool ErrorsTerminate => false;

        /// <summary>Relative paths in a config resolve against its file's folder, else the current location.</summary>
        protected string BaseDirectoryOf(XTunerConfig config) =>
            config.SourcePath != null ? Path.GetDirectoryName(config.SourcePath)! : CurrentDirectory;

        /// <summary>A PowerShell path (relative, ~, PSDrive) as a file-system path; the target need not exist.</summary>
        protected string ResolvePath(string path) => GetUnresolvedProviderPathFromPSPath(path);

        protected sealed override void ProcessRecord()
        {
            ErrorTarget = null;
            try
            {
                ProcessInput();
            }
            catch (XTunerException e)
            {
                if (ErrorsTerminate) ThrowTerminatingError(RecordOf(e, ErrorTarget));
                else WriteError(RecordOf(e, ErrorTarget));
            }
        }

        /// <summary>The cmdlet's work for one pipeline input (what <c>ProcessRecord</c> is elsewhere).</summary>
        protected abstract void ProcessInput();

        /// <summary>
        /// One item of several (a name, a file, a job): a failure is written as a non-terminating error about
        /// <paramref name="target"/> and the next item runs. Failures of <paramref name="fatal"/> ids still stop the pipeline.
        /// </summary>
        protected void Attempt(object? target, Action action, params string[] fatal)
        {
            try
            {
                action();
            }
            catch (XTunerException e) when (!fatal.Contains(e.ErrorId))
            {
                WriteError(RecordOf(e, target));
            }
            catch (XTunerException e)
            {
                ThrowTerminatingError(RecordOf(e, target));
            }
        }

        protected void WriteWarnings(IEnumerable<ConfigFinding> findings)
        {
            foreach (var w in findings.Where(f => f.Severity == FindingSeverity.Warning))
                WriteWarning(w.ToString());
        }

        /// <summary>A Core failure as an error record: its ErrorId, the category of its <see cref="ErrorKind"/>, and the target.</summary>
        internal static ErrorRecord RecordOf(XTunerException e, object? target) =>
            new ErrorRecord(e, e.ErrorId, CategoryOf(e.Kind), target);

        /// <summary>Each <see cref="ErrorKind"/> is named after the PowerShell category it stands for.</summary>
        internal static ErrorCategory CategoryOf(ErrorKind kind) =>
            Enum.TryParse<ErrorCategory>(kind.ToString(), out var category) ? category : ErrorCategory.NotSpecified;
    }
}
