using System;
using System.Collections.Generic;
using System.IO;
using XTuner.Core;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Training.Tokenization;

namespace XTuner.Training.Data
{
    /// <summary>A config's data files to training sequences: read, format, tokenize, mask, pack.</summary>
    public static class DatasetBuilder
    {
        /// <summary>Error id for a malformed data line (the message names file and line).</summary>
        public const string BadDataLineErrorId = ErrorIds.BadDataLine;

        /// <summary>
        /// Reads <c>data_files</c> (relative to <paramref name="baseDirectory"/>; <c>builtin:NAME</c> for bundled samples)
        /// in the config's dataset_format and returns the sequences in file order (the sampler shuffles). The synthetic
        /// format reads nothing and makes max_steps x batch_size x accumulative_counts x data-parallel sequences.
        /// </summary>
        public static IReadOnlyList<PackedSequence> Build(XTunerConfig config, ITextTokenizer? tokenizer, string baseDirectory, out DatasetStats stats)
        {
            if (config.MaxLength < 1)
                throw new XTunerException(ErrorIds.InvalidConfigValue, $"max_length must be positive, not {config.MaxLength}.");
            if (config.DatasetFormat == DatasetFormat.Synthetic)
                return Synthetic(config, tokenizer, out stats);
            if (tokenizer is null && config.DatasetFormat != DatasetFormat.Tokenized)
                throw new XTunerException(ErrorIds.InvalidConfig,
                    $"dataset_format {config.DatasetFormat.ToString().ToLowerInvariant()} needs a tokenizer; set tokenizer or pretrained_model_name_or_path.");
            if (config.DataFiles.Count == 0)
                throw new XTunerException(ErrorIds.InvalidConfig, "data_files is empty; name JSONL files or builtin:<name> datasets.");

            var encoder = config.DatasetFormat is DatasetFormat.Alpaca or DatasetFormat.Chat
                ? new ConversationEncoder(PromptTemplates.Resolve(config, tokenizer!), tokenizer!)
                : null;
            var parser = new SampleParser(config.DatasetFormat, tokenizer, encoder, tokenizer?.VocabSize ?? config.Model.VocabSize);
            var padId = tokenizer?.PadTokenId ?? tokenizer?.EosTokenId ?? 0;
            var packer = new SequencePacker(config.MaxLength, config.PackToMaxLength, padId);
            long skipped = 0;

            foreach (var file in config.DataFiles)
            {
                using var reader = Open(file, baseDirectory, out var name);
                var lineNumber = 0;
                for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
                {
                    lineNumber++;
                    if (string.IsNullOrWhiteSpace(line))
                        continue;
                    TokenizedSample sample;
                    try
                    {
                        sample = parser.Parse(line);
                    }
                    catch (BadLineException ex)
                    {
                        if (!config.SkipBadLines)
                            throw new XTunerException(BadDataLineErrorId,
                                $"{name}:{lineNumber}: {ex.Message}. Fix the line, or set skip_bad_lines to skip such lines.", ex);
                        skipped++;
                        continue;
                    }
                    packer.Add(sample);
                }
            }

            var sequences = packer.Finish();
            stats = new DatasetStats
            {
                Samples = packer.Samples,
                Sequences = sequences.Count,
                Tokens = packer.Tokens,
                TargetTokens = packer.TargetTokens,
                SkippedLines = skipped,
                TruncatedSamples = packer.TruncatedSamples,
                PaddingTokens = packer.PaddingTokens,
            };
            return sequences;
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
            var sequences = new SyntheticSequences((int)count, config.MaxLength, vocab, config.Seed);
            var tokens = count * config.MaxLength;
            stats = new DatasetStats { Samples = count, Sequences = count, Tokens = tokens, TargetTokens = tokens };
            return sequences;
        }

        private static TextReader Open(string file, string baseDirectory, out string name)
        {
            if (BuiltinData.IsBuiltin(file))
            {
                name = file;
                try
                {
                    return new StreamReader(BuiltinData.Open(file));
                }
                catch (FileNotFoundException ex)
                {
                    throw new XTunerException(ErrorIds.PathNotFound, ex.Message, ex);
                }
            }
            name = Path.GetFullPath(Path.Combine(baseDirectory, file));
            if (!File.Exists(name))
                throw new XTunerException(ErrorIds.PathNotFound, $"Data file '{file}' not found (looked for {name}).");
            return new StreamReader(name);
        }
    }
}
