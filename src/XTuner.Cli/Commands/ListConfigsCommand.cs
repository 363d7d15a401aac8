using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Core.Catalogue;

namespace XTuner.Cli.Commands
{
    /// <summary><c>xtuner list-cfg [-p PATTERN]</c>: the built-in configs.</summary>
    public sealed class ListConfigsCommand : CliCommand
    {
        public override string Name => "list-cfg";

        public override string Summary => "List the built-in configs.";

        public override string Description =>
            "Lists the built-in configs with model, sequence length, sequence-parallel size and GPU count.\n" +
            "-p filters names by a substring or a wildcard pattern (llama2-7b, *128k*).";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--pattern", "Only names containing PATTERN (or matching it, with * and ?).", "PATTERN", "-p"),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            if (args.Positionals.Count > 0) throw new CliUsageException($"unexpected argument '{args.Positionals[0]}' (use -p PATTERN)");
            var pattern = args.Get("--pattern");
            if (pattern != null && !ConfigCatalogue.IsPattern(pattern)) pattern = "*" + pattern + "*";
            var configs = ConfigCatalogue.Find(pattern).ToList();
            output.WriteLine($"{"NAME",-32} {"MODEL",-34} {"LENGTH",8} {"SP",3} {"GPUS",4}");
            foreach (var c in configs)
                output.WriteLine($"{c.Name,-32} {c.ModelName,-34} {c.MaxLength,8} {c.SequenceParallelSize,3} {c.WorldSize,4}");
            if (configs.Count == 0) output.WriteLine("(no config matches)");
            return 0;
        }
    }
}
