using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Parquet;
using Parquet.Serialization;
using XTuner.Core;
using XTuner.Core.Configuration;

namespace XTuner.Training.Data.Sources
{
    /// <summary>
    /// A Parquet file, as the Hugging Face hub serves datasets: one record per row, read one row group at a time, with
    /// the columns a format reads (text; instruction, input, output; messages; input_ids, labels) written as a JSON
    /// object so that every format parses and reports errors exactly as for JSONL.
    /// </summary>
    internal sealed class ParquetSource : DataSource
    {
        private readonly FileStream _file;
        private readonly int _rowGroups;
        private readonly long _rows;
        private readonly string[] _columns;
        private long _rowsRead;

        private ParquetSource(string path, FileStream file, int rowGroups, long rows, string[] columns)
            : base(path)
        {
            _file = file;
            _rowGroups = rowGroups;
            _rows = rows;
            _columns = columns;
            TotalBytes = file.Length;
        }

        public override string RecordKind => "row";

        public override long TotalBytes { get; }

        public override long BytesRead => _rows > 0 ? TotalBytes * _rowsRead / _rows : TotalBytes;

        /// <summary>Opens the file and checks that it has the columns <paramref name="format"/> needs.</summary>
        public static ParquetSource Open(string path, DatasetFormat format)
        {
            var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            try
            {
                var (columns, required) = Columns(format);
                int rowGroups;
                long rows;
                string[] present;
                var reader = Unreadable(path, () => ParquetReader.CreateAsync(file).GetAwaiter().GetResult());
                try
                {
                    rowGroups = reader.RowGroupCount;
                    rows = reader.Metadata?.RowGroups.Sum(g => g.NumRows) ?? 0;
                    present = reader.Schema.Fields.Select(f => f.Name).ToArray();
                }
                finally
                {
                    reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
                var missing = required.Where(c => !present.Contains(c, StringComparer.Ordinal)).ToList();
                if (missing.Count > 0)
                    throw new XTunerException(ErrorIds.BadDataFile,
                        $"{path} has no column {string.Join(", ", missing.Select(c => $"'{c}'"))} (its columns: {string.Join(", ", present)}); " +
                        $"dataset_format {ConfigValues.FormatEnum(format)} reads {string.Join(", ", columns)}. Set dataset_format to the file's format.");
                return new ParquetSource(path, file, rowGroups, rows, columns);
            }
            catch
            {
                file.Dispose();
                throw;
            }
        }

        public override IEnumerable<DataRecord> Records()
        {
            long number = 0;
            for (var group = 0; group < _rowGroups; group++)
            {
                _file.Position = 0;
                var rows = Unreadable(Name, () => ParquetSerializer.DeserializeUntypedAsync(_file, rowGroupIndex: group).GetAwaiter().GetResult()).Data;
                foreach (var row in rows)
                {
                    number++;
                    _rowsRead++;
                    yield return new DataRecord(number, ParquetRowJson.Write(row, _columns));
                }
            }
        }

        public override string Where(long number) => $"{Name} row {number}";

        public override void Dispose() => _file.Dispose();

        /// <summary>The columns a format reads, and those of them it cannot do without.</summary>
        private static (string[] Columns, string[] Required) Columns(DatasetFormat format) => format switch
        {
            DatasetFormat.Text => (new[] { "text" }, new[] { "text" }),
            DatasetFormat.Alpaca => (new[] { "instruction", "input", "output" }, new[] { "instruction", "output" }),
            DatasetFormat.Chat => (new[] { "messages" }, new[] { "messages" }),
            _ => (new[] { "input_ids", "labels" }, new[] { "input_ids" }),
        };

        /// <summary>Runs a read; a file Parquet.Net cannot read is an error naming it.</summary>
        private static T Unreadable<T>(string path, Func<T> read)
        {
            try
            {
                return read();
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or NotSupportedException or InvalidOperationException
                                           or ArgumentException or IndexOutOfRangeException or ParquetException)
            {
                throw new XTunerException(ErrorIds.BadDataFile, $"{path} is not a Parquet file that can be read ({ex.Message}).", ex);
            }
        }
    }
}
