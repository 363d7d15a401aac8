using System;
using System.Collections.Generic;
using System.IO;

namespace XTuner.PowerShell.Tests.Hosting
{
    /// <summary>
    /// One runspace with the module imported, shared by the tests of a class (xunit runs them one at a time), and a
    /// scratch folder the class's tests write into.
    /// </summary>
    public sealed class ModuleSession : IDisposable
    {
        private readonly PowerShellSession _session = PowerShellSession.Open();

        public string Folder { get; } = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "xtuner-ps-" + Guid.NewGuid().ToString("N"))).FullName;

        /// <summary>Runs a script; $Folder is the scratch folder.</summary>
        public ScriptResult Run(string script) =>
            _session.Run("param($Folder) " + script, new Dictionary<string, object?> { ["Folder"] = Folder });

        public void Dispose()
        {
            _session.Dispose();
            Directory.Delete(Folder, recursive: true);
        }
    }
}
