using System;
using System.Linq;
using XTuner.Core.Configuration;

namespace XTuner.Cli
{
    /// <summary>
    /// <c>xtuner</c>: the XTuner-style command line (list-cfg, copy-cfg, train, ...) and the entry point of every rank.
    /// Exit codes: 0 success, 1 failure, 2 bad command line, 130 interrupted.
    /// </summary>
    public static class Program
    {
        public static int Main(string[] args)
        {
            var output = Console.Out;
            // "xtuner help train" is "xtuner train --help".
            if (args.Length > 1 && args[0] == "help") args = new[] { args[1], "--help" };
            if (args.Length == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help")
            {
                output.Write(Overview());
                return args.Length == 0 ? 2 : 0;
            }
            if (args[0] == "--version" || args[0] == "version")
            {
                output.WriteLine("xtuner " + Version);
                return 0;
            }
            var command = CliCommand.All.FirstOrDefault(c => c.Name == args[0]);
            if (command == null)
            {
                var close = StringDistance.Closest(args[0], CliCommand.All.Where(c => !c.Hidden).Select(c => c.Name));
                Console.Error.WriteLine($"xtuner: unknown command '{args[0]}'" + (close != null ? $"; did you mean '{close}'?" : "") + " (xtuner --help lists them)");
                return 2;
            }
            FailureReport.ExitOnUnhandledExceptions("xtuner " + command.Name);
            var rest = args.Skip(1).ToArray();
            if (rest.Contains("-h") || rest.Contains("--help"))
            {
                output.Write(command.Usage());
                return 0;
            }
            try
            {
                return command.Execute(CliArguments.Parse(rest, command.Options), output);
            }
            catch (CliUsageException e)
            {
                Console.Error.WriteLine($"xtuner {command.Name}: {e.Message}");
                Console.Error.Write(command.Usage());
                return 2;
            }
            catch (Exception e)
            {
                Console.Error.WriteLine(FailureReport.Line("xtuner " + command.Name, e));
                if (FailureReport.Debug) Console.Error.WriteLine(e);
                return 1;
            }
        }

        public static string Version =>
            typeof(Program).Assembly.GetName().Version is Version v ? $"{v.Major}.{v.Minor}.{v.Build}" : "0.0.0";

        private static string Overview()
        {
            var lines = CliCommand.All.Where(c => !c.Hidden).Select(c => $"  {c.Name,-18} {c.Summary}");
            return "usage: xtuner COMMAND [ARGS] [options]" + Environment.NewLine + Environment.NewLine +
                   "Train Hugging Face decoder models on long sequences with exact sequence parallelism." + Environment.NewLine + Environment.NewLine +
                   "commands:" + Environment.NewLine + string.Join(Environment.NewLine, lines) + Environment.NewLine + Environment.NewLine +
                   "xtuner COMMAND --help shows a command's options." + Environment.NewLine;
        }
    }
}
