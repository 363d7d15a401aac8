using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using XTuner.Core;

namespace XTuner.Training.Data.Sources
{
    /// <summary>JSON Lines: one JSON object per line, blank lines allowed; gzip-compressed when the name ends in .gz.</summary>
    internal sealed class JsonLinesSource : DataSource
    {
        private readonly Stream _file;
        private readonly StreamReader _reader;

        public JsonLinesSource(string name, Stream file, bool compressed)
            : base(name)
        {
            _file = file;
            TotalBytes = file.Length;
            // Progress follows the compressed stream's position: the uncompressed size is not known in advance.
            _reader = new StreamReader(compressed ? new GZipStream(file, CompressionMode.Decompress) : file);
        }

        public override string RecordKind => "line";

        public override long TotalBytes { get; }

        public override long BytesRead => _file.CanSeek ? _file.Position : 0;

        public override IEnumerable<DataRecord> Records()
        {
            long number = 0;
            for (var line = ReadLine(); line is not null; line = ReadLine())
            {
                number++;
                if (!string.IsNullOrWhiteSpace(line))
                    yield return new DataRecord(number, line);
            }
        }

        private string? ReadLine()
        {
            try
            {
                return _reader.ReadLine();
            }
            catch (InvalidDataException ex)
            {
                throw new XTunerException(ErrorIds.BadDataFile, $"{Name} is not a gzip file that can be read ({ex.Message}).", ex);
            }
        }

        public override string Where(long number) => $"{Name}:{number}";

        public override void Dispose() => _reader.Dispose();
    }
}
