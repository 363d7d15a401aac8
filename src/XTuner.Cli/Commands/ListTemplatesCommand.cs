using System.Collections.Generic;
using System.IO;
using XTuner.Training.Data;

namespace XTuner.Cli.Commands
{
    /// <summary><c>xtuner list-templates</c>: the prompt templates prompt_template accepts, each shown on one exchange.</summary>
    public sealed class ListTemplatesCommand : CliCommand
    {
        public override string Name => "list-templates";

        public override string Summary => "List the prompt templates (prompt_template) for alpaca and chat data.";

        public override string Description =>
            "Lists every prompt_template with a user turn rendered as the model sees it ({system} and {input} filled in).\n" +
            "Without prompt_template, a config uses its model family's template (the byte tokenizer: alpaca or default).";

        public override int Execute(CliArguments args, TextWriter output)
        {
            if (args.Positionals.Count > 0) throw new CliUsageException($"unexpected argument '{args.Positionals[0]}'");
            foreach (var name in PromptTemplates.Names)
            {
                var template = PromptTemplates.Get(name);
                output.WriteLine(name);
                output.WriteLine("    " + template.RenderPrompt("You are helpful.", "Hello?").Replace("\n", "\\n") + "<reply>" + template.Suffix.Replace("\n", "\\n"));
            }
            return 0;
        }
    }
}
