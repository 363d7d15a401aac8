using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace XTuner.PowerShell.Tests.Hosting
{
    /// <summary>
    /// A runspace of the real PowerShell engine (System.Management.Automation) with the default session state, optionally
    /// with the module imported from the root manifest exactly as a user imports it.
    /// </summary>
    public sealed class PowerShellSession : IDisposable
    {
        private readonly Runspace _runspace;

        private PowerShellSession(Runspace runspace) => _runspace = runspace;

        /// <summary>Opens a runspace; with <paramref name="importModule"/>, runs Import-Module &lt;repo&gt;/XTuner.psd1 and fails if that fails.</summary>
        public static PowerShellSession Open(bool importModule = true)
        {
            var runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
            runspace.Open();
            var session = new PowerShellSession(runspace);
            if (importModule)
            {
                var import = session.Run("param($Manifest) Import-Module $Manifest -ErrorAction Stop", new Dictionary<string, object?> { ["Manifest"] = Repository.Manifest });
                if (import.Terminating != null || import.Errors.Count > 0)
                {
                    session.Dispose();
                    throw new InvalidOperationException("Import-Module XTuner.psd1 failed (is the module built?):\n" + import.Describe());
                }
            }
            return session;
        }

        /// <summary>
        /// Runs a script in its own scope (its variables do not outlive it; the session's modules and location do).
        /// A terminating error is returned in <see cref="ScriptResult.Terminating"/>, not thrown.
        /// </summary>
        public ScriptResult Run(string script, IDictionary<string, object?>? parameters = null)
        {
            using var ps = System.Management.Automation.PowerShell.Create();
            ps.Runspace = _runspace;
            ps.AddScript(script, useLocalScope: true);
            if (parameters != null)
                foreach (var p in parameters) ps.AddParameter(p.Key, p.Value);
            var output = new List<PSObject>();
            ErrorRecord? terminating = null;
            try
            {
                foreach (var o in ps.Invoke())
                    if (o != null) output.Add(o);
            }
            catch (RuntimeException e)
            {
                terminating = e.ErrorRecord;
            }
            return new ScriptResult(output, ps.Streams.Error.ReadAll(), ps.Streams.Warning.ReadAll(), ps.Streams.Verbose.ReadAll(), terminating);
        }

        public void Dispose() => _runspace.Dispose();
    }
}
