using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using XTuner.Core;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Training.Engine;

namespace XTuner.Cli.Commands
{
    /// <summary><c>xtuner evaluate MODEL --data FILE</c>: one JSON line with the token-mean loss over the dataset.</summary>
    public sealed class EvaluateCommand : CliCommand
    {
        public override string Name => "evaluate";

        public override string Summary => "Print the token-mean loss of a model on a JSONL dataset.";

        public override string Arguments => "MODEL";

        public override string Description =>
            "MODEL is a Hugging Face checkpoint folder (e.g. WORK_DIR/hf after training) or a config whose\n" +
            "pretrained_model_name_or_path is one. Every sample is its own sequence unless --cfg-options packs them\n" +
            "(pack_to_max_length=true max_length=N; use_varlen_attn, default true when packing, keeps the documents apart, so\n" +
            "the packed loss equals the unpacked one); prints {\"loss\": ..., \"tokens\": ...}.";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--data", "JSONL file to evaluate on, or a built-in one (builtin:NAME, as data_files takes).", "FILE"),
            new CliOption("--batch-size", "Sequences per forward pass (default 8).", "N"),
            new CliOption("--format", "text, alpaca, chat or tokenized (default: from the first line's keys).", "FORMAT"),
            new CliOption("--max-length", "Truncate samples to this many tokens (default: the model's positions, at most 4096).", "N"),
            new CliOption("--device", "cpu (default) or cuda.", "DEVICE"),
            new CliOption("--cfg-options", "How the data is built: pack_to_max_length, max_length, use_varlen_attn (key=value).", "KEY=VALUE", many: true),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            var model = args.Single("MODEL");
            var data = args.Get("--data") ?? throw new CliUsageException("--data FILE is required");
            XTunerConfig config;
            if (Directory.Exists(model))
                config = new XTunerConfig { PretrainedModelNameOrPath = Path.GetFullPath(model) };
            else if (File.Exists(model) || Core.Catalogue.ConfigCatalogue.Contains(model))
                config = TrainCommand.LoadConfig(model);
            else
                throw new XTunerException(ErrorIds.ModelNotFound, $"'{Path.GetFullPath(model)}' is neither a checkpoint folder nor a config.");
            RequireData(data);
            DatasetFormat? format = null;
            if (args.Get("--format") is string f)
            {
                if (!ConfigValues.TryParseEnum(typeof(DatasetFormat), f, out var parsed)) throw new CliUsageException($"--format: unknown format '{f}'");
                format = (DatasetFormat)parsed!;
            }
            var device = DeviceKind.Cpu;
            if (args.Get("--device") is string d && (!ConfigValues.TryParseEnum(typeof(DeviceKind), d, out var dev) || (device = (DeviceKind)dev!) == default && d != "cpu"))
                throw new CliUsageException($"--device takes cpu or cuda, not '{d}'");
            var result = Evaluator.Run(config, data, args.GetInt("--batch-size") ?? 8, device, args.GetInt("--max-length"), format, args.GetAll("--cfg-options"));
            output.WriteLine(string.Format(CultureInfo.InvariantCulture, "{{\"loss\": {0:R}, \"tokens\": {1}, \"sequences\": {2}}}", result.Loss, result.Tokens, result.Sequences));
            return 0;
        }

        /// <summary>A data file that is not there is named with what to do, before any model loads.</summary>
        private static void RequireData(string data)
        {
            if (BuiltinData.IsBuiltin(data))
            {
                if (!BuiltinData.Exists(data))
                    throw new XTunerException(ErrorIds.PathNotFound, $"There is no built-in dataset '{data}': the built-in ones are {string.Join(", ", BuiltinData.Names.Select(n => BuiltinData.Scheme + n))}.");
                return;
            }
            if (!File.Exists(data))
                throw new XTunerException(ErrorIds.PathNotFound,
                    $"The data file '{Path.GetFullPath(data)}' does not exist: give --data a JSONL file, or a built-in dataset ({string.Join(", ", BuiltinData.Names.Select(n => BuiltinData.Scheme + n))}).");
        }
    }
}
