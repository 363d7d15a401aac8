using XTuner.Training.Data.Sources;

namespace XTuner.Training.Data
{
    /// <summary>Consecutive records of one data file, parsed: each is a sample or the reason it is not.</summary>
    internal sealed class ParsedBatch
    {
        public ParsedBatch(DataSource source, long[] numbers, TokenizedSample?[] samples, BadLineException?[] errors, long bytesRead)
        {
            Source = source;
            Numbers = numbers;
            Samples = samples;
            Errors = errors;
            BytesRead = bytesRead;
        }

        /// <summary>The file the records came from (errors name it).</summary>
        public DataSource Source { get; }

        /// <summary>Each record's line or row number.</summary>
        public long[] Numbers { get; }

        /// <summary>Each record's sample, null where <see cref="Errors"/> has the reason.</summary>
        public TokenizedSample?[] Samples { get; }

        public BadLineException?[] Errors { get; }

        /// <summary>Bytes of all the data files read up to the end of this batch.</summary>
        public long BytesRead { get; }

        public int Count => Numbers.Length;
    }
}
