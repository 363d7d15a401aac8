using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using XTuner.BuildTools.Help;

namespace XTuner.BuildTools
{
    /// <summary>
    /// Builds the cmdlets' MAML help (what Get-Help shows) from the cmdlet assembly and its XML documentation:
    /// the class's &lt;summary&gt; is the synopsis, its &lt;remarks&gt; paragraphs the description, each &lt;example&gt;
    /// an example and each parameter property's &lt;summary&gt; that parameter's description. Syntax, parameter sets,
    /// positions, pipeline input, aliases, types, enum values and outputs come from the attributes.
    /// </summary>
    internal static class HelpWriter
    {
        /// <summary>Writes the help file, or writes nothing and returns what is missing.</summary>
        public static IReadOnlyList<string> Write(string assemblyPath, string xmlDocPath, string outputPath)
        {
            var cmdlets = CmdletMetadata.FromAssembly(Assembly.LoadFrom(Path.GetFullPath(assemblyPath)));
            var docs = new XmlDocumentation(xmlDocPath);
            var problems = cmdlets.SelectMany(c => Missing(c, docs)).ToList();
            if (cmdlets.Count == 0) problems.Add($"{assemblyPath} defines no cmdlets.");
            if (problems.Count > 0) return problems;

            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outputPath))!);
            var temp = outputPath + ".tmp";
            MamlWriter.Document(cmdlets, docs).Save(temp);
            File.Move(temp, outputPath, overwrite: true);
            return problems;
        }

        /// <summary>Help a user needs from every cmdlet (what Help.Tests.ps1 checks), named so it can be written.</summary>
        private static IEnumerable<string> Missing(CmdletMetadata cmdlet, XmlDocumentation docs)
        {
            var where = $"{cmdlet.Name} ({cmdlet.Type.FullName})";
            if (docs.Summary(cmdlet.Type) == null) yield return $"{where} has no synopsis: add a <summary> to the class.";
            if (docs.Remarks(cmdlet.Type).Count == 0) yield return $"{where} has no description: add <remarks><para>...</para></remarks> to the class.";
            var examples = docs.Examples(cmdlet.Type);
            if (examples.Count == 0) yield return $"{where} has no example: add <example><code>...</code><para>...</para></example> to the class.";
            if (examples.Any(e => e.Code.Length == 0 || e.Remarks.Count == 0))
                yield return $"{where} has an example without <code> or without a <para> that explains it.";
            foreach (var p in cmdlet.Parameters.Where(p => p.Property != null && docs.Summary(p.Property) == null))
                yield return $"{where} parameter -{p.Name} has no description: add a <summary> to {p.Property!.DeclaringType!.Name}.{p.Name}.";
        }
    }
}
