using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace XTuner.PowerShell.Tests.Hosting
{
    /// <summary>What one script wrote: output, non-terminating errors, warnings, verbose lines, and the terminating error if it stopped.</summary>
    public sealed class ScriptResult
    {
        public ScriptResult(IReadOnlyList<PSObject> output, IReadOnlyList<ErrorRecord> errors, IReadOnlyList<WarningRecord> warnings,
            IReadOnlyList<VerboseRecord> verbose, ErrorRecord? terminating)
        {
            Output = output;
            Errors = errors;
            Warnings = warnings;
            Verbose = verbose;
            Terminating = terminating;
        }

        /// <summary>The objects written to the output (a $null written is left out).</summary>
        public IReadOnlyList<PSObject> Output { get; }

        public IReadOnlyList<ErrorRecord> Errors { get; }

        public IReadOnlyList<WarningRecord> Warnings { get; }

        public IReadOnlyList<VerboseRecord> Verbose { get; }

        public ErrorRecord? Terminating { get; }

        /// <summary>The output's base objects (the .NET objects behind the PSObjects).</summary>
        public IReadOnlyList<T> Objects<T>() => Output.Select(o => o.BaseObject).OfType<T>().ToList();

        /// <summary>Everything that went wrong, for assertion messages.</summary>
        public string Describe() =>
            string.Join("\n", Errors.Select(e => $"error {e.FullyQualifiedErrorId}: {e}")
                .Concat(Terminating == null ? Enumerable.Empty<string>() : new[] { $"terminating {Terminating.FullyQualifiedErrorId}: {Terminating}\n{Terminating.ScriptStackTrace}" }));
    }
}
