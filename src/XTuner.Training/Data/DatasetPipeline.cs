using System;
using System.Diagnostics;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Core.Datasets;
using XTuner.Training.Tokenization;

namespace XTuner.Training.Data
{
    /// <summary>
    /// The one path from data files to sequences: read, parse and tokenize on every core (in file order), mask, pack,
    /// and hand each sequence to a sink, which keeps it in memory or writes it to a dataset cache.
    /// </summary>
    internal static class DatasetPipeline
    {
        private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(1);

        /// <summary>Threads that tokenize when nobody says otherwise: every core this process may use.</summary>
        public static int DefaultThreads => Math.Max(1, Environment.ProcessorCount);

        /// <summary>The pad id of sequences packed with <paramref name="tokenizer"/> (its pad, else eos, else 0).</summary>
        public static int PadId(ITextTokenizer? tokenizer) => tokenizer?.PadTokenId ?? tokenizer?.EosTokenId ?? 0;

        /// <summary>Builds the config's sequences into <paramref name="sink"/> and returns what was read and made.</summary>
        public static DatasetStats Run(XTunerConfig config, ITextTokenizer? tokenizer, string baseDirectory, ISequenceSink sink,
            IDataPreparationListener? listener, int threads)
        {
            var encoder = config.DatasetFormat is DatasetFormat.Alpaca or DatasetFormat.Chat
                ? new ConversationEncoder(PromptTemplates.Resolve(config, tokenizer!), tokenizer!)
                : null;
            var parser = new SampleParser(config.DatasetFormat, tokenizer, encoder, tokenizer?.VocabSize ?? config.Model.VocabSize);
            var packer = new SequencePacker(config.MaxLength, config.PackToMaxLength, sink);
            var totalBytes = ParallelSampleReader.TotalBytes(config.DataFiles, baseDirectory, config.DatasetFormat);
            var clock = Stopwatch.StartNew();
            var lastReport = TimeSpan.Zero;
            long skipped = 0, bytesRead = 0;

            DataProgress Snapshot(DataPhase phase) => new DataProgress
            {
                Phase = phase, Samples = packer.Samples, Tokens = packer.Tokens, BytesRead = bytesRead, TotalBytes = totalBytes,
                ElapsedSeconds = clock.Elapsed.TotalSeconds, Threads = threads,
            };

            foreach (var batch in ParallelSampleReader.Read(config.DataFiles, baseDirectory, config.DatasetFormat, parser, threads))
            {
                for (var i = 0; i < batch.Count; i++)
                {
                    if (batch.Samples[i] is TokenizedSample sample)
                    {
                        packer.Add(sample);
                        continue;
                    }
                    if (!config.SkipBadLines)
                    {
                        var kind = batch.Source.RecordKind;
                        throw new XTunerException(ErrorIds.BadDataLine,
                            $"{batch.Source.Where(batch.Numbers[i])}: {batch.Errors[i]!.Message}. Fix the {kind}, or set skip_bad_lines to skip such {kind}s.",
                            batch.Errors[i]);
                    }
                    skipped++;
                }
                bytesRead = batch.BytesRead;
                if (listener != null && clock.Elapsed - lastReport >= ProgressInterval)
                {
                    lastReport = clock.Elapsed;
                    listener.Progress(Snapshot(DataPhase.Tokenizing));
                }
            }
            packer.Finish();
            listener?.Progress(Snapshot(DataPhase.Done));
            return new DatasetStats
            {
                Samples = packer.Samples,
                Sequences = packer.Sequences,
                Tokens = packer.Tokens,
                TargetTokens = packer.TargetTokens,
                SkippedLines = skipped,
                TruncatedSamples = packer.TruncatedSamples,
                PaddingTokens = packer.PaddingTokens,
            };
        }
    }
}
