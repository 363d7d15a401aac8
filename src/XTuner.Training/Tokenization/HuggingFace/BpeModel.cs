using System;
using System.Collections.Concurrent;
using System.Collections.Generic;

namespace XTuner.Training.Tokenization.HuggingFace
{
    /// <summary>
    /// The <c>BPE</c> model of a tokenizer.json: characters to vocabulary ids (unknown characters as
    /// <c>&lt;0xNN&gt;</c> byte tokens with byte fallback, else the unk token), then merges by rank.
    /// </summary>
    internal sealed class BpeModel : IBpeMergeRule
    {
        private const int MaxCachedWordLength = 256;
        private const int MaxCachedWords = 200_000;

        private readonly Dictionary<string, int> _vocab;
        private readonly Dictionary<(int, int), (int Rank, int Id)> _merges;
        private readonly int? _unkId;
        private readonly bool _byteFallback;
        private readonly bool _fuseUnk;
        private readonly bool _ignoreMerges;
        private readonly int[]? _byteIds;
        private readonly ConcurrentDictionary<string, int[]> _cache = new ConcurrentDictionary<string, int[]>(StringComparer.Ordinal);

        public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, string? unkToken,
            bool byteFallback, bool fuseUnk, bool ignoreMerges)
        {
            _vocab = vocab;
            _merges = new Dictionary<(int, int), (int, int)>(merges.Count);
            for (var rank = 0; rank < merges.Count; rank++)
            {
                var (left, right) = merges[rank];
                if (!vocab.TryGetValue(left, out var leftId) || !vocab.TryGetValue(right, out var rightId) ||
                    !vocab.TryGetValue(left + right, out var mergedId))
                    throw new FormatException($"merge {rank} ('{left}' '{right}') uses tokens that are not in the vocabulary");
                _merges.TryAdd((leftId, rightId), (rank, mergedId));
            }
            if (unkToken is not null)
                _unkId = vocab.TryGetValue(unkToken, out var unk)
                    ? unk
                    : throw new FormatException($"unk_token '{unkToken}' is not in the vocabulary");
            _byteFallback = byteFallback;
            _fuseUnk = fuseUnk;
            _ignoreMerges = ignoreMerges;
            if (byteFallback)
            {
                _byteIds = new int[256];
                for (var b = 0; b < 256; b++)
                    _byteIds[b] = vocab.TryGetValue(ByteToken(b), out var id) ? id : -1;
            }
        }

        /// <summary>The largest id the model assigns, plus one.</summary>
        public int IdLimit
        {
            get
            {
                var max = -1;
                foreach (var id in _vocab.Values)
                    max = Math.Max(max, id);
                return max + 1;
            }
        }

        public IReadOnlyDictionary<string, int> Vocab => _vocab;

        /// <summary><c>&lt;0x0A&gt;</c>: the name byte-fallback vocabularies give byte 10.</summary>
        public static string ByteToken(int b) => $"<0x{b:X2}>";

        public void Encode(string word, List<int> output)
        {
            if (_ignoreMerges && _vocab.TryGetValue(word, out var whole))
            {
                output.Add(whole);
                return;
            }
            if (word.Length <= MaxCachedWordLength && _cache.TryGetValue(word, out var cached))
            {
                output.AddRange(cached);
                return;
            }

            var ids = MergeWord(word);
            if (word.Length <= MaxCachedWordLength && _cache.Count < MaxCachedWords)
                _cache.TryAdd(word, ids);
            output.AddRange(ids);
        }

        public bool TryMerge(in BpeSymbol left, in BpeSymbol right, out double priority, out int mergedId)
        {
            if (_merges.TryGetValue((left.Id, right.Id), out var merge))
            {
                priority = merge.Rank;
                mergedId = merge.Id;
                return true;
            }
            priority = 0;
            mergedId = 0;
            return false;
        }

        private int[] MergeWord(string word)
        {
            var symbols = new List<BpeSymbol>(word.Length);
            var pendingUnk = false;
            Span<byte> utf8 = stackalloc byte[4];
            foreach (var rune in word.EnumerateRunes())
            {
                if (_vocab.TryGetValue(rune.ToString(), out var id))
                {
                    FlushUnk(symbols, ref pendingUnk);
                    symbols.Add(new BpeSymbol { Id = id, Length = 1 });
                    continue;
                }
                if (_byteIds is not null)
                {
                    var n = rune.EncodeToUtf8(utf8);
                    var all = true;
                    for (var i = 0; i < n; i++)
                        all &= _byteIds[utf8[i]] >= 0;
                    if (all)
                    {
                        FlushUnk(symbols, ref pendingUnk);
                        for (var i = 0; i < n; i++)
                            symbols.Add(new BpeSymbol { Id = _byteIds[utf8[i]], Length = 1 });
                        continue;
                    }
                }
                // Without an unk token the character vanishes, as in Hugging Face.
                if (_unkId is int unk)
                {
                    if (pendingUnk && !_fuseUnk)
                        symbols.Add(new BpeSymbol { Id = unk, Length = 1 });
                    pendingUnk = true;
                }
            }
            FlushUnk(symbols, ref pendingUnk);

            var array = symbols.ToArray();
            BpeMerger.Link(array, array.Length);
            BpeMerger.MergeAll(array, array.Length, this);
            var ids = new List<int>(array.Length);
            for (var i = 0; i >= 0 && i < array.Length; i = array[i].Next)
                ids.Add(array[i].Id);
            return ids.ToArray();
        }

        private void FlushUnk(List<BpeSymbol> symbols, ref bool pendingUnk)
        {
            if (!pendingUnk)
                return;
            symbols.Add(new BpeSymbol { Id = _unkId!.Value, Length = 1 });
            pendingUnk = false;
        }
    }
}
