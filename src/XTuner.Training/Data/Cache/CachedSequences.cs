using System;
using System.Buffers;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using XTuner.Core;
using XTuner.Core.Datasets;

namespace XTuner.Training.Data.Cache
{
    /// <summary>
    /// The sequences of a dataset cache folder, read on demand with positioned reads: only the sequences a step asks for
    /// are ever in this process's memory, and the files themselves sit once in the page cache that every rank of the
    /// machine shares. (Mapping the files would do the same, but every page a rank touched would then count in its
    /// resident memory until the kernel takes it back; over an epoch, the whole dataset.)
    /// </summary>
    public sealed class CachedSequences : IReadOnlyList<PackedSequence>, IDisposable
    {
        private readonly DatasetCacheManifest _manifest;
        private readonly SafeFileHandle _ids;
        private readonly SafeFileHandle _labels;
        private readonly SafeFileHandle _documents;
        private readonly SafeFileHandle _sequenceTokens;
        private readonly SafeFileHandle _sequenceDocuments;
        private readonly SafeFileHandle _checksums;
        private readonly bool _mask;
        // The trainer reads a sequence's ids, labels and positions one after another: build it once.
        private Tuple<int, PackedSequence>? _last;

        private CachedSequences(string folder, DatasetCacheManifest manifest, bool reused)
        {
            Folder = folder;
            _manifest = manifest;
            Reused = reused;
            _mask = manifest.Labels == CacheFiles.MaskLabels;
            _ids = OpenFile(CacheFiles.InputIds);
            _labels = OpenFile(_mask ? CacheFiles.Targets : CacheFiles.Labels);
            _documents = OpenFile(CacheFiles.Documents);
            _sequenceTokens = OpenFile(CacheFiles.SequenceTokens);
            _sequenceDocuments = OpenFile(CacheFiles.SequenceDocuments);
            _checksums = OpenFile(CacheFiles.Checksums);
        }

        /// <summary>The cache folder.</summary>
        public string Folder { get; }

        public DatasetCacheManifest Manifest => _manifest;

        /// <summary>True when the cache was already there; false when this process built it.</summary>
        public bool Reused { get; }

        public int Count => (int)_manifest.Sequences;

        public PackedSequence this[int index]
        {
            get
            {
                if (index < 0 || index >= Count)
                    throw new ArgumentOutOfRangeException(nameof(index), $"Sequence {index} is outside 0..{Count - 1}.");
                var last = _last;
                if (last != null && last.Item1 == index)
                    return last.Item2;
                PackedSequence sequence;
                try
                {
                    sequence = Read(index);
                }
                catch (InvalidCacheException e)
                {
                    throw Damaged(index, e.Message);
                }
                _last = Tuple.Create(index, sequence);
                return sequence;
            }
        }

        /// <summary>
        /// Opens the cache in <paramref name="folder"/> after checking its manifest, every file's size and the index
        /// files' checksums; <see cref="InvalidCacheException"/> says what is wrong.
        /// </summary>
        internal static CachedSequences Open(string folder, bool reused)
        {
            var manifest = DatasetCacheManifest.TryRead(folder) ?? throw new InvalidCacheException($"{DatasetCacheManifest.FileName} is missing or unreadable");
            if (manifest.FormatVersion != DatasetCacheManifest.CurrentFormatVersion)
                throw new InvalidCacheException($"it has layout version {manifest.FormatVersion}; this xtuner reads version {DatasetCacheManifest.CurrentFormatVersion}");
            if (manifest.TokenBytes is not (2 or 4) || manifest.Labels is not (CacheFiles.MaskLabels or CacheFiles.IdLabels) ||
                manifest.Sequences < 0 || manifest.Sequences > int.MaxValue || manifest.Documents < manifest.Sequences || manifest.Tokens < 0)
                throw new InvalidCacheException("its manifest does not describe a cache");
            var mask = manifest.Labels == CacheFiles.MaskLabels;
            var expected = new Dictionary<string, long>(StringComparer.Ordinal)
            {
                [CacheFiles.InputIds] = manifest.Tokens * manifest.TokenBytes,
                [mask ? CacheFiles.Targets : CacheFiles.Labels] = mask ? (manifest.Tokens + 7) / 8 : manifest.Tokens * 4,
                [CacheFiles.Documents] = manifest.Documents * 4,
                [CacheFiles.SequenceTokens] = (manifest.Sequences + 1) * 8,
                [CacheFiles.SequenceDocuments] = (manifest.Sequences + 1) * 8,
                [CacheFiles.Checksums] = manifest.Sequences * 8,
            };
            foreach (var (name, bytes) in expected)
            {
                var path = Path.Combine(folder, name);
                if (!manifest.Files.TryGetValue(name, out var entry) || entry.Bytes != bytes)
                    throw new InvalidCacheException($"its manifest does not list {name} with {bytes} bytes");
                var actual = File.Exists(path) ? new FileInfo(path).Length : -1;
                if (actual != bytes)
                    throw new InvalidCacheException(actual < 0 ? $"{name} is missing" : $"{name} has {actual} bytes instead of {bytes} (truncated?)");
                if (CacheFiles.IsIndex(name) && DatasetCacheWriter.FileChecksum(path) != entry.Checksum)
                    throw new InvalidCacheException($"{name} does not match its checksum");
            }
            var cache = new CachedSequences(folder, manifest, reused);
            try
            {
                cache.CheckTotals();
                return cache;
            }
            catch
            {
                cache.Dispose();
                throw;
            }
        }

        public IEnumerator<PackedSequence> GetEnumerator()
        {
            for (var i = 0; i < Count; i++)
                yield return this[i];
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public void Dispose()
        {
            _ids.Dispose();
            _labels.Dispose();
            _documents.Dispose();
            _sequenceTokens.Dispose();
            _sequenceDocuments.Dispose();
            _checksums.Dispose();
        }

        public override string ToString() => $"{Count} sequences in {Folder}";

        private PackedSequence Read(int index)
        {
            Span<long> range = stackalloc long[2];
            ReadExactly(_sequenceTokens, MemoryMarshal.AsBytes(range), index * 8L);
            long firstToken = range[0], tokens = range[1] - range[0];
            ReadExactly(_sequenceDocuments, MemoryMarshal.AsBytes(range), index * 8L);
            long firstDocument = range[0], documents = range[1] - range[0];
            if (tokens < 1 || tokens > _manifest.MaxLength || documents < 1 || documents > tokens || firstToken + tokens > _manifest.Tokens)
                throw Damaged(index, "its index is inconsistent");

            var lengths = new int[documents];
            ReadExactly(_documents, MemoryMarshal.AsBytes(lengths.AsSpan()), firstDocument * 4);
            long sum = 0;
            foreach (var l in lengths) sum += l < 1 ? int.MaxValue : l;
            if (sum != tokens)
                throw Damaged(index, "its document lengths do not add up to its tokens");

            var length = _manifest.PackToMaxLength ? _manifest.MaxLength : (int)tokens;
            var ids = new int[length];
            var labels = new int[length];
            ReadTokens(firstToken, (int)tokens, ids, labels);
            var positions = new int[length];
            PackedSequence.Lay(ids, labels, positions, lengths, _manifest.PadTokenId);

            Span<ulong> stored = stackalloc ulong[1];
            ReadExactly(_checksums, MemoryMarshal.AsBytes(stored), index * 8L);
            if (SequenceChecksum.Of(ids, labels, positions) != stored[0])
                throw Damaged(index, "it does not match its checksum");
            return new PackedSequence(ids, labels, positions, lengths);
        }

        private void ReadTokens(long first, int count, int[] ids, int[] labels)
        {
            if (_manifest.TokenBytes == 4)
            {
                ReadExactly(_ids, MemoryMarshal.AsBytes(ids.AsSpan(0, count)), first * 4);
            }
            else
            {
                var narrow = ArrayPool<ushort>.Shared.Rent(count);
                try
                {
                    ReadExactly(_ids, MemoryMarshal.AsBytes(narrow.AsSpan(0, count)), first * 2);
                    for (var t = 0; t < count; t++) ids[t] = narrow[t];
                }
                finally
                {
                    ArrayPool<ushort>.Shared.Return(narrow);
                }
            }
            if (!_mask)
            {
                ReadExactly(_labels, MemoryMarshal.AsBytes(labels.AsSpan(0, count)), first * 4);
                return;
            }
            long firstByte = first >> 3, endByte = (first + count + 7) >> 3;
            var bits = ArrayPool<byte>.Shared.Rent((int)(endByte - firstByte));
            try
            {
                ReadExactly(_labels, bits.AsSpan(0, (int)(endByte - firstByte)), firstByte);
                var bit = (int)(first - firstByte * 8);
                for (var t = 0; t < count; t++, bit++)
                    labels[t] = (bits[bit >> 3] >> (bit & 7) & 1) != 0 ? ids[t] : TokenizedSample.IgnoreIndex;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(bits);
            }
        }

        private void CheckTotals()
        {
            Span<long> value = stackalloc long[1];
            foreach (var (handle, total) in new[] { (_sequenceTokens, _manifest.Tokens), (_sequenceDocuments, _manifest.Documents) })
            {
                ReadExactly(handle, MemoryMarshal.AsBytes(value), 0);
                if (value[0] != 0) throw new InvalidCacheException("its sequence index does not start at 0");
                ReadExactly(handle, MemoryMarshal.AsBytes(value), _manifest.Sequences * 8);
                if (value[0] != total) throw new InvalidCacheException("its sequence index does not end at the manifest's totals");
            }
        }

        /// <summary>
        /// A sequence that fails its checks: the folder is set aside (so the next run rebuilds it rather than trip over
        /// it again) and this run stops with an error that says so.
        /// </summary>
        private XTunerException Damaged(int index, string problem)
        {
            var aside = Folder + ".corrupt-" + Guid.NewGuid().ToString("N").Substring(0, 8);
            try
            {
                Directory.Move(Folder, aside);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another rank set it aside first, or the file system refuses: the message still says what to do.
            }
            return new XTunerException(ErrorIds.DatasetCacheCorrupt,
                $"Sequence {index} of the dataset cache {Folder} is damaged ({problem}). The cache was set aside; start the run again " +
                "(or run xtuner prepare-data) to rebuild it.");
        }

        private SafeFileHandle OpenFile(string name) =>
            File.OpenHandle(Path.Combine(Folder, name), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);

        private static void ReadExactly(SafeFileHandle file, Span<byte> buffer, long offset)
        {
            while (buffer.Length > 0)
            {
                var read = RandomAccess.Read(file, buffer, offset);
                if (read <= 0) throw new InvalidCacheException("a file ends early");
                buffer = buffer[read..];
                offset += read;
            }
        }
    }
}
