using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace XTuner.Cli
{
    /// <summary>
    /// A subcommand of <c>xtuner</c>. Commands are found by reflection: adding a class adds a command.
    /// </summary>
    public abstract class CliCommand
    {
        /// <summary>The word after <c>xtuner</c>, e.g. <c>list-cfg</c>.</summary>
        public abstract string Name { get; }

        /// <summary>One line for <c>xtuner --help</c>.</summary>
        public abstract string Summary { get; }

        /// <summary>Positional arguments as shown in usage, e.g. <c>CONFIG</c>.</summary>
        public virtual string Arguments => "";

        /// <summary>Paragraph(s) shown by <c>xtuner NAME --help</c> after the usage line.</summary>
        public virtual string Description => Summary;

        public virtual IReadOnlyList<CliOption> Options => Array.Empty<CliOption>();

        /// <summary>Hidden commands are for ranks and diagnostics; they work but are not listed.</summary>
        public virtual bool Hidden => false;

        public abstract int Execute(CliArguments args, TextWriter output);

        public string Usage()
        {
            var sb = new StringBuilder();
            sb.AppendLine($"usage: xtuner {Name}{(Arguments.Length > 0 ? " " + Arguments : "")}{(Options.Count > 0 ? " [options]" : "")}");
            sb.AppendLine();
            sb.AppendLine(Description);
            if (Options.Count > 0)
            {
                sb.AppendLine();
                sb.AppendLine("options:");
                foreach (var o in Options)
                {
                    var left = (o.ShortName != null ? o.ShortName + ", " : "") + o.Name +
                               (o.IsFlag ? "" : o.OptionalValue ? $" [{o.ValueName}]" : o.Many ? $" {o.ValueName} [{o.ValueName} ...]" : " " + o.ValueName);
                    sb.AppendLine($"  {left,-34} {o.Help}");
                }
            }
            return sb.ToString();
        }

        internal static IReadOnlyList<CliCommand> All { get; } = typeof(CliCommand).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(CliCommand)) && !t.IsAbstract)
            .Select(t => (CliCommand)Activator.CreateInstance(t)!)
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .ToList();
    }
}
