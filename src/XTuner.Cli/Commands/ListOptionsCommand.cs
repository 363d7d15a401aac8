using System.Collections.Generic;
using System.IO;
using XTuner.Core.Configuration;

namespace XTuner.Cli.Commands
{
    /// <summary><c>xtuner list-options</c>: every config key with its values, default and meaning.</summary>
    public sealed class ListOptionsCommand : CliCommand
    {
        public override string Name => "list-options";

        public override string Summary => "List every config key (for YAML files and --cfg-options).";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--markdown", "Print a Markdown table (the README's configuration reference)."),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            if (args.Positionals.Count > 0) throw new CliUsageException($"unexpected argument '{args.Positionals[0]}'");
            output.Write(args.Has("--markdown") ? ConfigReference.Markdown() : ConfigReference.Text());
            return 0;
        }
    }
}
