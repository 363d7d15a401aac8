using System.Collections.Generic;
using System.IO;
using XTuner.Core;
using XTuner.Core.Catalogue;

namespace XTuner.Cli.Commands
{
    /// <summary><c>xtuner copy-cfg NAME DIR</c>: writes a built-in config to DIR/NAME_copy.yaml for editing (named as XTuner names its copies).</summary>
    public sealed class CopyConfigCommand : CliCommand
    {
        public override string Name => "copy-cfg";

        public override string Summary => "Copy a built-in config to a folder for editing.";

        public override string Arguments => "NAME DIR";

        public override string Description =>
            "Writes the built-in config NAME to DIR/NAME_copy.yaml, as XTuner names its copies (DIR is created). An existing file is kept unless --force.";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--force", "Replace an existing file."),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            if (args.Positionals.Count != 2) throw new CliUsageException("expected NAME and DIR");
            var text = ConfigCatalogue.GetText(args.Positionals[0]);
            var name = ConfigCatalogue.Get(args.Positionals[0]).Name ?? args.Positionals[0];
            var dir = Path.GetFullPath(args.Positionals[1]);
            var target = Path.Combine(dir, name + "_copy.yaml");
            if (File.Exists(target) && !args.Has("--force"))
                throw new XTunerException(ErrorIds.ConfigFileExists, $"'{target}' exists; use --force to replace it.");
            Directory.CreateDirectory(dir);
            File.WriteAllText(target, text);
            output.WriteLine($"Copied {name} to {target}");
            return 0;
        }
    }
}
