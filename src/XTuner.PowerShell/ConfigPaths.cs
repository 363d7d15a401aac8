using System.Collections.Generic;
using System.Management.Automation;
using XTuner.Core;

namespace XTuner.PowerShell
{
    /// <summary>
    /// -Path and -LiteralPath of the cmdlets that read config files, as the built-in cmdlets treat them: -Path expands
    /// wildcards (a pattern that matches nothing is an error), -LiteralPath (alias PSPath, so that Get-ChildItem's
    /// objects bind) takes every character as it is. The files need not exist: reading them reports that.
    /// </summary>
    internal static class ConfigPaths
    {
        /// <summary>The file-system paths <paramref name="path"/> names; a pattern without matches writes XTunerPathNotFound and yields none.</summary>
        public static IEnumerable<string> Resolve(PSCmdlet cmdlet, string path, bool literal)
        {
            if (literal || !WildcardPattern.ContainsWildcardCharacters(path))
            {
                yield return cmdlet.GetUnresolvedProviderPathFromPSPath(path);
                yield break;
            }
            IReadOnlyCollection<string> matches;
            try
            {
                matches = cmdlet.GetResolvedProviderPathFromPSPath(path, out _);
            }
            catch (ItemNotFoundException)
            {
                matches = new string[0];
            }
            if (matches.Count == 0)
            {
                cmdlet.WriteError(new ErrorRecord(new ItemNotFoundException($"No config file matches '{path}': check the pattern, or use -LiteralPath for a name with [ or ] in it."),
                    ErrorIds.ConfigFileNotFound, ErrorCategory.ObjectNotFound, path));
                yield break;
            }
            foreach (var match in matches) yield return match;
        }
    }
}
