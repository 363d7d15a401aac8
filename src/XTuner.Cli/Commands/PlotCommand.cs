using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Core;
using XTuner.Core.Runs;
using XTuner.Training.Metrics;

namespace XTuner.Cli.Commands
{
    /// <summary><c>xtuner plot WORK_DIR [WORK_DIR ...]</c>: loss, learning rate and tokens/s of one or more runs in one PNG.</summary>
    public sealed class PlotCommand : CliCommand
    {
        public override string Name => "plot";

        public override string Summary => "Draw loss, learning rate and tokens/s of runs (one or several, overlaid) as a PNG.";

        public override string Arguments => "WORK_DIR [WORK_DIR ...]";

        public override string Description =>
            "Reads each WORK_DIR's metrics.jsonl and draws loss, learning rate and tokens/s per GPU against the step, one\n" +
            "line per run, e.g. the same recipe at SP 1 and SP 4. One run is drawn into WORK_DIR/loss.png (as training\n" +
            "does at every checkpoint and at the end); several into ./loss.png. --output names another file.";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--output", "The PNG file to write.", "FILE", shortName: "-o"),
            new CliOption("--title", "The picture's title (default: the run's name, or the names of the runs).", "TEXT"),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            if (args.Positionals.Count == 0) throw new CliUsageException("missing WORK_DIR");
            var runs = new List<PlottedRun>();
            foreach (var dir in args.Positionals)
            {
                if (!File.Exists(new WorkDirLayout(dir).Metrics))
                    throw new XTunerException(ErrorIds.RunNotFound, $"'{Path.GetFullPath(dir)}' has no metrics.jsonl: give the work dir of a run that has trained at least one step.");
                runs.Add(LossPlot.Read(dir));
            }
            // Runs of one config are told apart by their folders.
            if (runs.Select(r => r.Label).Distinct().Count() < runs.Count)
                runs = runs.Select((r, i) => r with { Label = $"{r.Label} ({Path.GetFileName(Path.GetFullPath(args.Positionals[i]).TrimEnd('/'))})" }).ToList();
            var path = args.Get("--output") ?? (runs.Count == 1 ? new WorkDirLayout(args.Positionals[0]).LossPlot : "loss.png");
            LossPlot.Write(runs, args.Get("--title") ?? string.Join(" vs ", runs.Select(r => r.Label)), path);
            if (LossPlot.FontWarning(path, LossPlot.FontGlyphs) is string warning) System.Console.Error.WriteLine(warning);
            output.WriteLine(Path.GetFullPath(path));
            return 0;
        }
    }
}
