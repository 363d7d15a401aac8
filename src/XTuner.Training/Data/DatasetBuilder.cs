using System;
using System.Collections.Generic;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Core.Datasets;
using XTuner.Training.Data.Cache;
using XTuner.Training.Tokenization;

namespace XTuner.Training.Data
{
    /// <summary>A config's data files to training sequences: read, format, tokenize, mask, pack; cached when the config has a cache folder.</summary>
    public static class DatasetBuilder
    {
        /// <summary>Error id for a malformed data line (the message names file and line).</summary>
        public const string BadDataLineErrorId = ErrorIds.BadDataLine;

        /// <summary>
        /// Reads <c>data_files</c> (relative to <paramref name="baseDirectory"/>; <c>builtin:NAME</c> for bundled samples)
        /// in the config's dataset_format and returns the sequences in file order (the sampler shuffles). With a cache
        /// folder (<c>dataset_cache_dir</c>, else the work dir's; see <see cref="DatasetCacheDirectory"/>) the sequences
        /// are tokenized once into it and read from it on demand (<see cref="CachedSequences"/>); otherwise they are
        /// built in memory. Either way they are the same. The synthetic format reads nothing and makes
        /// max_steps x batch_size x accumulative_counts x data-parallel sequences.
        /// </summary>
        public static IReadOnlyList<PackedSequence> Build(XTunerConfig config, ITextTokenizer? tokenizer, string baseDirectory, out DatasetStats stats,
            IDataPreparationListener? listener = null)
        {
            if (config.MaxLength < 1)
                throw new XTunerException(ErrorIds.InvalidConfigValue, $"max_length must be positive, not {config.MaxLength}.");
            if (config.DatasetFormat == DatasetFormat.Synthetic)
                return Synthetic(config, tokenizer, out stats);
            CheckCanTokenize(config, tokenizer);
            if (DatasetCacheDirectory.Resolve(config) is string cacheRoot)
                return DatasetCache.OpenOrBuild(config, tokenizer, baseDirectory, cacheRoot, listener, out stats);
            var list = new PackedSequenceList(DatasetPipeline.PadId(tokenizer));
            stats = DatasetPipeline.Run(config, tokenizer, baseDirectory, list, listener, DatasetPipeline.DefaultThreads);
            return list.Sequences;
        }

        /// <summary>The errors of a config whose data cannot be tokenized at all: no tokenizer for its format, no files.</summary>
        public static void CheckCanTokenize(XTunerConfig config, ITextTokenizer? tokenizer)
        {
            if (tokenizer is null && config.DatasetFormat != DatasetFormat.Tokenized)
                throw new XTunerException(ErrorIds.InvalidConfig,
                    $"dataset_format {config.DatasetFormat.ToString().ToLowerInvariant()} needs a tokenizer; set tokenizer or pretrained_model_name_or_path.");
            if (config.DataFiles.Count == 0)
                throw new XTunerException(ErrorIds.InvalidConfig, "data_files is empty; name JSONL or Parquet files, or builtin:<name> datasets.");
        }

        /// <summary>
        /// Refuses data that cannot train: files that hold no sample (<see cref="ErrorIds.BadDataFile"/>), or samples none of
        /// whose labels is a target (<see cref="ErrorIds.NoTargets"/>), which would train to the end at loss 0 and learn nothing.
        /// </summary>
        public static void RequireTargets(XTunerConfig config, DatasetStats stats)
        {
            string files = string.Join(", ", config.DataFiles);
            if (stats.Samples == 0)
                throw new XTunerException(ErrorIds.BadDataFile,
                    $"data_files ({files}) hold no samples{(stats.SkippedLines > 0 ? $": all {stats.SkippedLines} lines were bad and skipped" : "")}; add data, or name other files.");
            if (stats.TargetTokens == 0)
                throw new XTunerException(ErrorIds.NoTargets,
                    $"data_files ({files}) hold {stats.Samples} sample(s) but no target: every label is masked (-100), so nothing would be learned. " +
                    "Check the labels, the prompt template's masking (a chat needs an assistant turn), or max_length (samples cut before their answer).");
        }

        private static IReadOnlyList<PackedSequence> Synthetic(XTunerConfig config, ITextTokenizer? tokenizer, out DatasetStats stats)
        {
            var vocab = config.Model.VocabSize ?? tokenizer?.VocabSize
                ?? throw new XTunerException(ErrorIds.InvalidConfig, "dataset_format synthetic needs model.vocab_size (or a tokenizer).");
            var steps = config.MaxSteps
                ?? throw new XTunerException(ErrorIds.InvalidConfig, "dataset_format synthetic needs max_steps: it has no epochs.");
            var count = (long)steps * config.BatchSize * config.AccumulativeCounts * Math.Max(1, config.DataParallelSize);
            if (count > int.MaxValue)
                throw new XTunerException(ErrorIds.InvalidConfigValue, $"max_steps x global batch asks for {count} synthetic sequences; at most {int.MaxValue}.");
            var sequences = new SyntheticSequences((int)count, config.MaxLength, vocab, config.Seed, config.SyntheticDocumentLength);
            var tokens = count * config.MaxLength;
            stats = new DatasetStats { Samples = count, Sequences = count, Tokens = tokens, TargetTokens = tokens };
            return sequences;
        }
    }
}
