using System;
using System.Collections.Generic;
using System.IO;
using XTuner.Core;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;

namespace XTuner.Training.Data.Sources
{
    /// <summary>
    /// A data file read record by record: JSONL (<c>.jsonl</c>, gzip-compressed <c>.jsonl.gz</c>), Parquet
    /// (<c>.parquet</c>), or a built-in sample. Knows how much of the file it has read, for progress bars.
    /// </summary>
    internal abstract class DataSource : IDisposable
    {
        protected DataSource(string name) => Name = name;

        /// <summary>The file's full path (or builtin:NAME), as errors name it.</summary>
        public string Name { get; }

        /// <summary>What a record is called in errors: line or row.</summary>
        public abstract string RecordKind { get; }

        /// <summary>The file's size in bytes (compressed size for .gz files).</summary>
        public abstract long TotalBytes { get; }

        /// <summary>Bytes of the file read so far (an estimate between Parquet row groups).</summary>
        public abstract long BytesRead { get; }

        /// <summary>The records in file order; blank JSONL lines are left out.</summary>
        public abstract IEnumerable<DataRecord> Records();

        /// <summary>Where a record is, as error messages say: <c>FILE:LINE</c>, or <c>FILE row N</c>.</summary>
        public abstract string Where(long number);

        public abstract void Dispose();

        /// <summary>
        /// Opens <paramref name="file"/> (relative to <paramref name="baseDirectory"/>) by its name: .parquet, .gz, else
        /// JSONL. <paramref name="format"/> names the Parquet columns the records need.
        /// </summary>
        public static DataSource Open(string file, string baseDirectory, DatasetFormat format)
        {
            if (BuiltinData.IsBuiltin(file))
            {
                try
                {
                    return new JsonLinesSource(file, BuiltinData.Open(file), compressed: false);
                }
                catch (FileNotFoundException ex)
                {
                    throw new XTunerException(ErrorIds.PathNotFound, ex.Message, ex);
                }
            }
            var path = FullPath(file, baseDirectory);
            if (path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
                return ParquetSource.Open(path, format);
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            return new JsonLinesSource(path, stream, compressed: path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase));
        }

        /// <summary>The absolute path of a data file that exists; a missing one is an error naming it.</summary>
        public static string FullPath(string file, string baseDirectory)
        {
            var path = Path.GetFullPath(Path.Combine(baseDirectory, file));
            if (!File.Exists(path))
                throw new XTunerException(ErrorIds.PathNotFound, $"Data file '{file}' not found (looked for {path}).");
            return path;
        }
    }
}
