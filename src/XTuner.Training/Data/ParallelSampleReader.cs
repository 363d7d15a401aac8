using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using XTuner.Core.Configuration;
using XTuner.Training.Data.Sources;

namespace XTuner.Training.Data
{
    /// <summary>
    /// Reads the data files in order on one thread and parses (tokenizes) batches of records on all the others, handing
    /// the batches back in file order: the samples, and so the packing, are exactly those of reading line by line.
    /// </summary>
    internal static class ParallelSampleReader
    {
        // A batch is a few hundred kilobytes of text: large enough that a worker's task overhead vanishes, small enough
        // that the batches in flight (two per thread) stay a few megabytes.
        private const int BatchCharacters = 256 * 1024;
        private const int BatchRecords = 4096;

        /// <summary>Total bytes of <paramref name="files"/> (compressed size for .gz), for progress; a missing file is an error.</summary>
        public static long TotalBytes(IReadOnlyList<string> files, string baseDirectory, DatasetFormat format)
        {
            long total = 0;
            foreach (var file in files)
            {
                if (Core.Catalogue.BuiltinData.IsBuiltin(file))
                {
                    using var source = DataSource.Open(file, baseDirectory, format);
                    total += source.TotalBytes;
                }
                else
                {
                    total += new System.IO.FileInfo(DataSource.FullPath(file, baseDirectory)).Length;
                }
            }
            return total;
        }

        /// <summary>The parsed batches of every file in order, parsed by <paramref name="threads"/> threads.</summary>
        public static IEnumerable<ParsedBatch> Read(IReadOnlyList<string> files, string baseDirectory, DatasetFormat format, SampleParser parser, int threads)
        {
            using var cancel = new CancellationTokenSource();
            using var queue = new BlockingCollection<Task<ParsedBatch>>(Math.Max(2, 2 * threads));
            var producer = Task.Factory.StartNew(() => Produce(files, baseDirectory, format, parser, queue, cancel.Token),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            try
            {
                foreach (var batch in queue.GetConsumingEnumerable())
                    yield return batch.GetAwaiter().GetResult();
                producer.GetAwaiter().GetResult();
            }
            finally
            {
                // The consumer stopped early (a bad line, an error): stop reading and let the producer end.
                cancel.Cancel();
                while (queue.TryTake(out _)) { }
                try
                {
                    producer.Wait();
                }
                catch (AggregateException)
                {
                    // Already reported through the queue, or caused by the cancellation.
                }
            }
        }

        private static void Produce(IReadOnlyList<string> files, string baseDirectory, DatasetFormat format, SampleParser parser,
            BlockingCollection<Task<ParsedBatch>> queue, CancellationToken cancel)
        {
            try
            {
                long done = 0;
                foreach (var file in files)
                {
                    using var source = DataSource.Open(file, baseDirectory, format);
                    var records = new List<DataRecord>();
                    long characters = 0;
                    foreach (var record in source.Records())
                    {
                        records.Add(record);
                        characters += record.Json.Length;
                        if (characters >= BatchCharacters || records.Count >= BatchRecords)
                        {
                            queue.Add(Parse(source, records, parser, done + source.BytesRead), cancel);
                            records = new List<DataRecord>();
                            characters = 0;
                        }
                    }
                    done += source.TotalBytes;
                    if (records.Count > 0)
                        queue.Add(Parse(source, records, parser, done), cancel);
                }
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
            }
            catch (Exception ex)
            {
                // A file that cannot be opened or read fails the build where it comes in file order.
                if (!cancel.IsCancellationRequested)
                    queue.Add(Task.FromException<ParsedBatch>(ex));
            }
            finally
            {
                queue.CompleteAdding();
            }
        }

        private static Task<ParsedBatch> Parse(DataSource source, List<DataRecord> records, SampleParser parser, long bytesRead) =>
            Task.Run(() =>
            {
                var numbers = new long[records.Count];
                var samples = new TokenizedSample?[records.Count];
                var errors = new BadLineException?[records.Count];
                for (var i = 0; i < records.Count; i++)
                {
                    numbers[i] = records[i].Number;
                    try
                    {
                        samples[i] = parser.Parse(records[i].Json);
                    }
                    catch (BadLineException ex)
                    {
                        errors[i] = ex;
                    }
                }
                return new ParsedBatch(source, numbers, samples, errors, bytesRead);
            });
    }
}
