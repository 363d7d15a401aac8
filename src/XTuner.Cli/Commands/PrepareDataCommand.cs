using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Core.Datasets;
using XTuner.Core.Launch;
using XTuner.Core.Models;
using XTuner.Core.Runs;
using XTuner.Training.Data;
using XTuner.Training.Data.Cache;
using XTuner.Training.Tokenization;

namespace XTuner.Cli.Commands
{
    /// <summary>
    /// <c>xtuner prepare-data CONFIG</c>: tokenizes and packs a config's data into its dataset cache ahead of training,
    /// on every core, with a progress bar, and prints the statistics the trainer prints. A cache that is already there
    /// is reused after reading every sequence back against its checksum.
    /// </summary>
    public sealed class PrepareDataCommand : CliCommand
    {
        public override string Name => "prepare-data";

        public override string Summary => "Tokenize and pack a config's data into its dataset cache ahead of training.";

        public override string Arguments => "CONFIG";

        public override string Description =>
            "Reads CONFIG's data_files (JSONL, .jsonl.gz or Parquet), tokenizes them on every core and packs them as\n" +
            "training will, into the dataset cache (dataset_cache_dir, default WORK_DIR/dataset_cache). Every later run,\n" +
            "resume or requeued job with the same data, tokenizer, format, template and packing reads that cache instead of\n" +
            "tokenizing. A cache that is already there is checked sequence by sequence and reused; --rebuild builds it anew.\n" +
            "Prints the dataset statistics, the cache folder and its size.";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--work-dir", "The run's work dir, whose dataset_cache folder is the default cache (default work_dirs/NAME).", "DIR"),
            new CliOption("--cfg-options", "Override config keys: key=value (dotted for nested keys).", "KEY=VALUE", many: true),
            new CliOption("--threads", "Threads that tokenize (default: every core).", "N"),
            new CliOption("--rebuild", "Build the cache anew even when a valid one is there."),
            new CliOption("--events", "Print progress as @xtuner-event lines (for Initialize-XTunerDataset)."),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            var source = args.Single("CONFIG");
            var threads = args.GetInt("--threads");
            if (threads is < 1) throw new CliUsageException("--threads must be 1 or more");
            var config = LaunchPlanner.Prepare(TrainCommand.LoadConfig(source), new LaunchOptions
            {
                WorkDir = args.Get("--work-dir"),
                ConfigOptions = args.GetAll("--cfg-options").ToList(),
            }, out var warnings);
            var events = args.Has("--events");
            foreach (var w in warnings) output.WriteLine("warning: " + w.Message);
            if (config.DatasetFormat == DatasetFormat.Synthetic)
            {
                output.WriteLine("dataset_format synthetic makes its sequences as training asks for them: there is nothing to prepare.");
                return 0;
            }
            var cacheRoot = DatasetCacheDirectory.Resolve(config)
                ?? throw new XTunerException(ErrorIds.InvalidConfig,
                    $"dataset_cache_dir is {DatasetCacheDirectory.Disabled}: there is no cache to prepare. Set dataset_cache_dir to a folder, or leave it out for WORK_DIR/{DatasetCacheDirectory.DefaultFolderName}.");

            var baseDir = Directory.GetCurrentDirectory();
            var needsTokenizer = config.DatasetFormat != DatasetFormat.Tokenized;
            var tokenizer = needsTokenizer ? TokenizerLoader.Load(config.Tokenizer, ResolvedModel.Resolve(config, baseDir).CheckpointDirectory) : null;
            DatasetBuilder.CheckCanTokenize(config, tokenizer);
            var progress = new DataProgressConsole(output, events);
            using var cache = DatasetCache.OpenOrBuild(config, tokenizer, baseDir, cacheRoot, progress, out var stats, threads, args.Has("--rebuild"));
            if (cache.Reused)
            {
                // The trainer checks each sequence as it reads it; here, where nothing waits, read them all now.
                for (var i = 0; i < cache.Count; i++) _ = cache[i];
                output.WriteLine($"data: all {cache.Count} sequences read back and match their checksums");
            }
            output.WriteLine($"data: {stats}");
            var m = cache.Manifest;
            output.WriteLine(string.Format(CultureInfo.InvariantCulture,
                cache.Reused ? "dataset cache: {0} ({1:F3} GB), built {2:yyyy-MM-dd HH:mm} UTC in {3:F1} s with {4} thread(s)"
                             : "dataset cache: {0} ({1:F3} GB), built in {3:F1} s with {4} thread(s)",
                cache.Folder, m.SizeBytes / 1e9, m.Created, m.BuildSeconds, m.BuildThreads));
            if (events) output.WriteLine(new RunEvent { Kind = "done", Path = cache.Folder, Message = cache.Reused ? "reused" : "built" }.ToLine());
            return 0;
        }
    }
}
