using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using XTuner.Core.Datasets;

namespace XTuner.Training.Data.Cache
{
    /// <summary>
    /// Writes packed sequences into the binary files of a cache folder (<see cref="CacheFiles"/>) as they are made, so
    /// that building a cache holds no more than one sequence in memory.
    /// </summary>
    internal sealed class DatasetCacheWriter : ISequenceSink, IDisposable
    {
        private const int BufferBytes = 1 << 20;

        private readonly string _folder;
        private readonly int _padId;
        private readonly int _tokenBytes;
        private readonly bool _mask;
        private readonly string[] _names;
        private readonly Dictionary<string, FileStream> _files = new Dictionary<string, FileStream>(StringComparer.Ordinal);
        private readonly SequenceChecksum _checksum = new SequenceChecksum();
        private readonly byte[] _scratch = new byte[8];
        private ushort[] _narrow = new ushort[256];
        // What padding and position ids hash as, without building each sequence: pad ids, -100, and 0, 1, 2, ...
        private int[] _padIds = Array.Empty<int>();
        private int[] _padLabels = Array.Empty<int>();
        private int[] _counting = Array.Empty<int>();
        private int _bits;
        private int _bitCount;

        /// <param name="folder">An empty folder of its own (the cache's temporary folder).</param>
        /// <param name="padId">The pad id of the sequences (for their checksums; padding is not stored).</param>
        /// <param name="tokenBytes">2 when every id is below 65536, else 4.</param>
        /// <param name="labelsAsMask">Labels are each token or -100 (text, alpaca, chat): store one bit per token.</param>
        public DatasetCacheWriter(string folder, int padId, int tokenBytes, bool labelsAsMask)
        {
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Dataset caches are written on little-endian machines only.");
            _folder = folder;
            _padId = padId;
            _tokenBytes = tokenBytes;
            _mask = labelsAsMask;
            _names = new[] { CacheFiles.InputIds, labelsAsMask ? CacheFiles.Targets : CacheFiles.Labels, CacheFiles.Documents,
                CacheFiles.SequenceTokens, CacheFiles.SequenceDocuments, CacheFiles.Checksums };
            foreach (var name in _names)
                _files[name] = new FileStream(Path.Combine(folder, name), FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferBytes);
            WriteInt64(CacheFiles.SequenceTokens, 0);
            WriteInt64(CacheFiles.SequenceDocuments, 0);
        }

        public long Sequences { get; private set; }

        public long Documents { get; private set; }

        public long Tokens { get; private set; }

        public void Add(IReadOnlyList<TokenizedSample> documents, int length)
        {
            var stored = 0;
            var last = 0;
            foreach (var document in documents)
            {
                WriteIds(document.InputIds);
                WriteLabels(document.InputIds, document.Labels);
                WriteInt32(CacheFiles.Documents, document.Length);
                _checksum.Append(document.InputIds, document.Labels, Counting(document.Length).AsSpan(0, document.Length));
                stored += document.Length;
                last = document.Length;
            }
            var padding = length - stored;
            if (padding > 0)
            {
                Padding(padding);
                _checksum.Append(_padIds.AsSpan(0, padding), _padLabels.AsSpan(0, padding), Counting(last + padding).AsSpan(last, padding));
            }
            Tokens += stored;
            Documents += documents.Count;
            Sequences++;
            WriteInt64(CacheFiles.SequenceTokens, Tokens);
            WriteInt64(CacheFiles.SequenceDocuments, Documents);
            WriteUInt64(CacheFiles.Checksums, _checksum.Finish());
        }

        /// <summary>Flushes every file to the disk and returns each one's size (and the index files' checksums).</summary>
        public SortedDictionary<string, DatasetCacheFile> Complete()
        {
            if (_mask && _bitCount > 0)
                _files[CacheFiles.Targets].WriteByte((byte)_bits);
            _bitCount = 0;
            foreach (var file in _files.Values)
                file.Flush(flushToDisk: true);
            Dispose();
            var result = new SortedDictionary<string, DatasetCacheFile>(StringComparer.Ordinal);
            foreach (var name in _names)
            {
                var path = Path.Combine(_folder, name);
                result[name] = new DatasetCacheFile
                {
                    Bytes = new FileInfo(path).Length,
                    Checksum = CacheFiles.IsIndex(name) ? FileChecksum(path) : null,
                };
            }
            return result;
        }

        /// <summary>XxHash3 of a whole file, as hex.</summary>
        public static string FileChecksum(string path)
        {
            var hash = new XxHash3();
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferBytes);
            hash.Append(stream);
            return Convert.ToHexString(hash.GetCurrentHash()).ToLowerInvariant();
        }

        public void Dispose()
        {
            foreach (var file in _files.Values)
                file.Dispose();
            _files.Clear();
        }

        private void WriteIds(int[] ids)
        {
            if (_tokenBytes == 4)
            {
                _files[CacheFiles.InputIds].Write(MemoryMarshal.AsBytes(ids.AsSpan()));
                return;
            }
            if (_narrow.Length < ids.Length) _narrow = new ushort[Math.Max(ids.Length, 2 * _narrow.Length)];
            for (var i = 0; i < ids.Length; i++)
            {
                if ((uint)ids[i] > ushort.MaxValue)
                    throw new InvalidOperationException($"Token id {ids[i]} does not fit the cache's 16-bit ids.");
                _narrow[i] = (ushort)ids[i];
            }
            _files[CacheFiles.InputIds].Write(MemoryMarshal.AsBytes(_narrow.AsSpan(0, ids.Length)));
        }

        private void WriteLabels(int[] ids, int[] labels)
        {
            if (!_mask)
            {
                _files[CacheFiles.Labels].Write(MemoryMarshal.AsBytes(labels.AsSpan()));
                return;
            }
            var targets = _files[CacheFiles.Targets];
            for (var i = 0; i < labels.Length; i++)
            {
                if (labels[i] != TokenizedSample.IgnoreIndex)
                {
                    if (labels[i] != ids[i])
                        throw new InvalidOperationException($"Label {labels[i]} is neither -100 nor its token {ids[i]}: this format's labels cannot be a mask.");
                    _bits |= 1 << _bitCount;
                }
                if (++_bitCount == 8)
                {
                    targets.WriteByte((byte)_bits);
                    _bits = 0;
                    _bitCount = 0;
                }
            }
        }

        private void Padding(int count)
        {
            if (_padIds.Length >= count) return;
            _padIds = new int[count];
            _padLabels = new int[count];
            Array.Fill(_padIds, _padId);
            Array.Fill(_padLabels, TokenizedSample.IgnoreIndex);
        }

        private int[] Counting(int count)
        {
            if (_counting.Length < count)
            {
                _counting = new int[Math.Max(count, 2 * _counting.Length)];
                for (var i = 0; i < _counting.Length; i++) _counting[i] = i;
            }
            return _counting;
        }

        private void WriteInt32(string file, int value)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(_scratch, value);
            _files[file].Write(_scratch, 0, 4);
        }

        private void WriteInt64(string file, long value)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(_scratch, value);
            _files[file].Write(_scratch, 0, 8);
        }

        private void WriteUInt64(string file, ulong value)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(_scratch, value);
            _files[file].Write(_scratch, 0, 8);
        }
    }
}
