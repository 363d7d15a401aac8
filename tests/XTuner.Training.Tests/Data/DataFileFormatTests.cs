using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text.Json;
using Parquet.Schema;
using Parquet.Serialization;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Training.Data;
using XTuner.Training.Tests.Data.Cache;
using XTuner.Training.Tests.Tokenization;
using Xunit;

namespace XTuner.Training.Tests.Data
{
    /// <summary>Parquet files and gzip-compressed JSONL give the sequences the same records give as plain JSONL.</summary>
    public class DataFileFormatTests : TempFolderTest
    {
        [Theory]
        [InlineData(DatasetFormat.Text)]
        [InlineData(DatasetFormat.Alpaca)]
        [InlineData(DatasetFormat.Chat)]
        [InlineData(DatasetFormat.Tokenized)]
        public void ParquetRowsAreTheirJsonLines(DatasetFormat format)
        {
            var folder = TempFolder();
            var lines = CacheData.Lines(format, 120);
            File.WriteAllLines(Path.Combine(folder, "data.jsonl"), lines);
            WriteParquet(Path.Combine(folder, "data.parquet"), format, lines, rowGroupSize: 50);
            var maxLength = format is DatasetFormat.Text or DatasetFormat.Tokenized ? 64 : 200;

            var expected = DatasetBuilder.Build(InMemory(folder, format, "data.jsonl", maxLength), CacheData.Tokenizer(format), folder, out var expectedStats);
            var fromParquet = DatasetBuilder.Build(InMemory(folder, format, "data.parquet", maxLength), CacheData.Tokenizer(format), folder, out var stats);

            CacheData.AssertSame(expected, fromParquet);
            CacheData.AssertSame(expectedStats, stats);
        }

        [Fact]
        public void GzipCompressedJsonlIsReadAsJsonl()
        {
            var folder = TempFolder();
            var lines = CacheData.Lines(DatasetFormat.Text, 80);
            File.WriteAllLines(Path.Combine(folder, "data.jsonl"), lines);
            using (var gz = new GZipStream(File.Create(Path.Combine(folder, "data.jsonl.gz")), CompressionLevel.Optimal))
            using (var writer = new StreamWriter(gz))
                foreach (var line in lines) writer.WriteLine(line);

            var expected = DatasetBuilder.Build(InMemory(folder, DatasetFormat.Text, "data.jsonl", 64), CacheData.Tokenizer(DatasetFormat.Text), folder, out _);
            var listener = new CacheData.Listener();
            var fromGzip = DatasetBuilder.Build(InMemory(folder, DatasetFormat.Text, "data.jsonl.gz", 64), CacheData.Tokenizer(DatasetFormat.Text), folder, out _, listener);
            CacheData.AssertSame(expected, fromGzip);
            var done = listener.Reports.Last();
            Assert.Equal(new FileInfo(Path.Combine(folder, "data.jsonl.gz")).Length, done.TotalBytes);
            Assert.Equal(done.TotalBytes, done.BytesRead);
        }

        [Fact]
        public void ABadParquetRowIsAnErrorNamingFileAndRow()
        {
            var folder = TempFolder();
            var path = Path.Combine(folder, "data.parquet");
            var schema = new ParquetSchema(new DataField<string>("instruction"), new DataField<string>("input"), new DataField<string>("output"));
            WriteUntyped(path, schema, new[] { Row(("instruction", "a"), ("output", "b")), Row(("instruction", "a"), ("output", "b")), Row(("instruction", "c")) }, 2);

            var e = Assert.Throws<XTunerException>(() => DatasetBuilder.Build(InMemory(folder, DatasetFormat.Alpaca, "data.parquet", 64), new Training.Tokenization.ByteTokenizer(), folder, out _));
            Assert.Equal(ErrorIds.BadDataLine, e.ErrorId);
            Assert.Contains($"{path} row 3: missing \"output\". Fix the row, or set skip_bad_lines to skip such rows.", e.Message);

            var skipping = InMemory(folder, DatasetFormat.Alpaca, "data.parquet", 64);
            skipping.SkipBadLines = true;
            Assert.Equal(2, DatasetBuilder.Build(skipping, new Training.Tokenization.ByteTokenizer(), folder, out var stats).Count);
            Assert.Equal(1, stats.SkippedLines);
        }

        [Fact]
        public void AParquetFileWithoutTheFormatsColumnsIsAnErrorListingItsColumns()
        {
            var folder = TempFolder();
            var path = Path.Combine(folder, "data.parquet");
            WriteUntyped(path, new ParquetSchema(new DataField<string>("content"), new DataField<long>("id")), new[] { Row(("content", "x"), ("id", 1L)) }, 10);

            var e = Assert.Throws<XTunerException>(() => DatasetBuilder.Build(InMemory(folder, DatasetFormat.Text, "data.parquet", 64), CacheData.Tokenizer(DatasetFormat.Text), folder, out _));
            Assert.Equal(ErrorIds.BadDataFile, e.ErrorId);
            Assert.Contains($"{path} has no column 'text' (its columns: content, id)", e.Message);
        }

        [Fact]
        public void AFileThatIsNotParquetIsAnErrorNamingIt()
        {
            var folder = TempFolder();
            File.WriteAllText(Path.Combine(folder, "data.parquet"), "{\"text\": \"not parquet\"}\n");
            var e = Assert.Throws<XTunerException>(() => DatasetBuilder.Build(InMemory(folder, DatasetFormat.Text, "data.parquet", 64), CacheData.Tokenizer(DatasetFormat.Text), folder, out _));
            Assert.Equal(ErrorIds.BadDataFile, e.ErrorId);
            Assert.Contains("data.parquet is not a Parquet file that can be read", e.Message);
        }

        [Fact]
        public void AFileThatIsNotGzipIsAnErrorNamingIt()
        {
            var folder = TempFolder();
            File.WriteAllText(Path.Combine(folder, "data.jsonl.gz"), "{\"text\": \"plain\"}\n");
            var e = Assert.Throws<XTunerException>(() => DatasetBuilder.Build(InMemory(folder, DatasetFormat.Text, "data.jsonl.gz", 64), CacheData.Tokenizer(DatasetFormat.Text), folder, out _));
            Assert.Equal(ErrorIds.BadDataFile, e.ErrorId);
            Assert.Contains("data.jsonl.gz is not a gzip file that can be read", e.Message);
        }

        private static XTunerConfig InMemory(string folder, DatasetFormat format, string file, int maxLength) =>
            CacheData.InMemory(CacheData.Config(folder, format, maxLength, pack: true, file: file));

        private static Dictionary<string, object?> Row(params (string Key, object? Value)[] values) => values.ToDictionary(v => v.Key, v => v.Value);

        /// <summary>The JSON lines as a Parquet file with the column types the Hugging Face hub's files have (strings, lists of int64, a list of structs).</summary>
        private static void WriteParquet(string path, DatasetFormat format, IEnumerable<string> lines, int rowGroupSize)
        {
            var rows = lines.Select(l => JsonDocument.Parse(l).RootElement).Select(e => format switch
            {
                DatasetFormat.Tokenized => Row(("input_ids", e.GetProperty("input_ids").EnumerateArray().Select(x => x.GetInt64()).ToList()),
                    ("labels", e.GetProperty("labels").EnumerateArray().Select(x => x.GetInt64()).ToList())),
                DatasetFormat.Chat => Row(("messages", e.GetProperty("messages").EnumerateArray().Select(m => (IDictionary<string, object?>)Row(
                    ("role", m.GetProperty("role").GetString()), ("content", m.GetProperty("content").GetString()),
                    ("loss", m.TryGetProperty("loss", out var loss) ? loss.GetBoolean() : (bool?)null))).ToList())),
                _ => e.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.GetString()),
            }).ToList();
            var schema = format switch
            {
                DatasetFormat.Text => new ParquetSchema(new DataField<string>("text")),
                DatasetFormat.Alpaca => new ParquetSchema(new DataField<string>("instruction"), new DataField<string>("input"), new DataField<string>("output")),
                DatasetFormat.Chat => new ParquetSchema(new ListField("messages", new StructField("element",
                    new DataField<string>("role"), new DataField<string>("content"), new DataField<bool?>("loss")))),
                _ => new ParquetSchema(new ListField("input_ids", new DataField<long>("element")), new ListField("labels", new DataField<long>("element"))),
            };
            WriteUntyped(path, schema, rows, rowGroupSize);
        }

        private static void WriteUntyped(string path, ParquetSchema schema, IReadOnlyList<Dictionary<string, object?>> rows, int rowGroupSize)
        {
            using var stream = File.Create(path);
            ParquetSerializer.SerializeUntypedAsync(rows.Select(r => (IDictionary<string, object?>)r).ToList(), schema, stream,
                new Parquet.ParquetOptions { RowGroupSize = rowGroupSize }).GetAwaiter().GetResult();
        }
    }
}
