using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace XTuner.Training.Tokenization.SentencePiece
{
    /// <summary>
    /// A SentencePiece BPE tokenizer.model (Llama 2, Mistral, Yi, InternLM2) encoded as <c>sentencepiece</c> does:
    /// whitespace normalization, merges by piece score, byte fallback, no bos/eos. Control tokens and the added tokens
    /// of a tokenizer_config.json beside the model are recognised in text, each text stretch between them encoded on
    /// its own (transformers' slow tokenizers do the same).
    /// </summary>
    public sealed class SentencePieceTokenizer : ITextTokenizer
    {
        private readonly string _path;
        private readonly string[] _pieces;
        private readonly float[] _scores;
        private readonly PieceType[] _types;
        private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _mergeable;
        private readonly Dictionary<string, int> _allPieces;
        private readonly (string Piece, int Id)[] _userDefined;
        private readonly int[] _byteIds;
        private readonly bool _byteFallback;
        private readonly bool _hasUnused;
        private readonly int _unkId;
        private readonly SentencePieceNormalizer _normalizer;
        private readonly AddedTokenSplitter _splitter;
        private readonly Dictionary<string, int> _added;
        private readonly HashSet<int> _addedIds;

        private SentencePieceTokenizer(string path, SentencePieceModelProto model)
        {
            _path = path;
            if (model.ModelType != SentencePieceModelProto.BpeModel)
                throw new FormatException($"SentencePiece model type {model.ModelType} is not supported (BPE, type 2, only)");
            if (model.PrecompiledCharsmapLength > 0 && model.NormalizerName != "identity")
                throw new FormatException($"SentencePiece normalizer '{model.NormalizerName}' is not supported (identity only)");
            if (model.TreatWhitespaceAsSuffix)
                throw new FormatException("SentencePiece treat_whitespace_as_suffix is not supported");
            if (model.Pieces.Count == 0)
                throw new FormatException("the model has no pieces");

            var n = model.Pieces.Count;
            _pieces = model.Pieces.Select(p => p.Piece).ToArray();
            _scores = model.Pieces.Select(p => p.Score).ToArray();
            _types = model.Pieces.Select(p => p.Type).ToArray();
            var mergeable = new Dictionary<string, int>(n, StringComparer.Ordinal);
            _allPieces = new Dictionary<string, int>(n, StringComparer.Ordinal);
            for (var id = 0; id < n; id++)
            {
                _allPieces.TryAdd(_pieces[id], id);
                if (_types[id] is PieceType.Normal or PieceType.UserDefined or PieceType.Unused)
                    mergeable.TryAdd(_pieces[id], id);
            }
            _mergeable = mergeable.GetAlternateLookup<ReadOnlySpan<char>>();
            _userDefined = Enumerable.Range(0, n).Where(id => _types[id] == PieceType.UserDefined && _pieces[id].Length > 0)
                .Select(id => (_pieces[id], id)).OrderByDescending(p => p.Item1.Length).ToArray();
            _hasUnused = _types.Contains(PieceType.Unused);
            _byteFallback = model.ByteFallback;
            _byteIds = new int[256];
            for (var b = 0; b < 256; b++)
                _byteIds[b] = _allPieces.TryGetValue($"<0x{b:X2}>", out var id) && _types[id] == PieceType.Byte ? id : -1;
            _unkId = model.UnkId;
            if (_unkId < 0 || _unkId >= n)
                throw new FormatException($"unk_id {_unkId} is outside the {n} pieces");
            _normalizer = new SentencePieceNormalizer(model.AddDummyPrefix, model.RemoveExtraWhitespaces, model.EscapeWhitespaces);

            var config = TokenizerConfigFiles.Read(Path.GetDirectoryName(path)!);
            _added = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var t in config.AddedTokens)
                _added[t.Content] = t.Id;
            _addedIds = new HashSet<int>(_added.Values);
            var specials = Enumerable.Range(0, n)
                .Where(id => _types[id] is PieceType.Control or PieceType.Unknown && _pieces[id].Length > 0)
                .Select(id => new AddedToken(_pieces[id], id))
                .Concat(config.AddedTokens);
            _splitter = new AddedTokenSplitter(specials);
            VocabSize = Math.Max(n, config.AddedTokens.Count == 0 ? 0 : config.AddedTokens.Max(t => t.Id) + 1);

            BosTokenId = config.BosId(TokenToId, InRange(model.BosId));
            EosTokenId = config.EosId(TokenToId, InRange(model.EosId));
            PadTokenId = config.PadId(TokenToId, InRange(model.PadId));
        }

        public int VocabSize { get; }

        public int? BosTokenId { get; }

        public int? EosTokenId { get; }

        public int? PadTokenId { get; }

        /// <summary>Reads a tokenizer.model (and the tokenizer_config.json / special_tokens_map.json beside it).</summary>
        public static SentencePieceTokenizer Load(string path) =>
            new SentencePieceTokenizer(path, SentencePieceModelProto.Parse(File.ReadAllBytes(path)));

        public IReadOnlyList<int> Encode(string text)
        {
            var ids = new List<int>(text.Length / 3 + 4);
            foreach (var segment in _splitter.Split(text))
            {
                if (segment.IsToken)
                    ids.Add(segment.TokenId);
                else
                    EncodeNormalized(_normalizer.Normalize(segment.Text!), ids);
            }
            return ids;
        }

        public string Decode(IEnumerable<int> ids)
        {
            // Each stretch between special tokens was encoded with its own dummy prefix, so each loses one leading space.
            var text = new StringBuilder();
            var stretch = new List<byte>();
            foreach (var id in ids)
            {
                if (id >= 0 && id < _pieces.Length && _types[id] == PieceType.Byte)
                    stretch.Add(Convert.ToByte(_pieces[id].Substring(3, 2), 16));
                else if (id >= 0 && id < _pieces.Length && _types[id] is PieceType.Normal or PieceType.UserDefined or PieceType.Unused && !_addedIds.Contains(id))
                    stretch.AddRange(Encoding.UTF8.GetBytes(_pieces[id].Replace(SentencePieceNormalizer.SpaceSymbol, ' ')));
                else if (TokenText(id) is string special)
                {
                    FlushStretch(stretch, text);
                    text.Append(special);
                }
            }
            FlushStretch(stretch, text);
            return text.ToString();
        }

        public int? TokenToId(string token) =>
            _added.TryGetValue(token, out var added) ? added
            : _allPieces.TryGetValue(token, out var id) ? id
            : null;

        public void SaveTo(string directory) => TokenizerConfigFiles.CopyWith(_path, directory);

        public override string ToString() => _path;

        private string? TokenText(int id) =>
            _added.FirstOrDefault(a => a.Value == id).Key ?? (id >= 0 && id < _pieces.Length ? _pieces[id] : null);

        private void FlushStretch(List<byte> stretch, StringBuilder text)
        {
            var decoded = Encoding.UTF8.GetString(stretch.ToArray());
            text.Append(_normalizer.AddsDummyPrefix && decoded.StartsWith(' ') ? decoded.Substring(1) : decoded);
            stretch.Clear();
        }

        private int? InRange(int id) => id >= 0 && id < _pieces.Length ? id : null;

        private void EncodeNormalized(string text, List<int> ids)
        {
            if (text.Length == 0)
                return;
            var symbols = new BpeSymbol[text.Length];
            var count = 0;
            for (var i = 0; i < text.Length;)
            {
                var (length, id) = UserDefinedAt(text, i);
                if (length == 0)
                {
                    length = char.IsSurrogatePair(text, i) ? 2 : 1;
                    id = _mergeable.TryGetValue(text.AsSpan(i, length), out var found) ? found : -1;
                }
                symbols[count++] = new BpeSymbol { Id = id, Start = i, Length = length };
                i += length;
            }
            BpeMerger.Link(symbols, count);
            var rule = new MergeRule(this, text, _hasUnused ? new Dictionary<string, (string, string)>() : null);
            BpeMerger.MergeAll(symbols, count, rule);
            for (var i = 0; i >= 0 && i < count; i = symbols[i].Next)
                Emit(text.Substring(symbols[i].Start, symbols[i].Length), symbols[i].Id, rule.ReverseMerges, ids);
        }

        private (int Length, int Id) UserDefinedAt(string text, int index)
        {
            foreach (var (piece, id) in _userDefined)
                if (index + piece.Length <= text.Length && string.CompareOrdinal(text, index, piece, 0, piece.Length) == 0)
                    return (piece.Length, id);
            return (0, -1);
        }

        private void Emit(string piece, int id, Dictionary<string, (string Left, string Right)>? reverseMerges, List<int> ids)
        {
            // Unused pieces may be passed through while merging but never come out: split them back.
            if (id >= 0 && _types[id] == PieceType.Unused && reverseMerges is not null && reverseMerges.TryGetValue(piece, out var parts))
            {
                Emit(parts.Left, _mergeable.TryGetValue(parts.Left, out var left) ? left : -1, reverseMerges, ids);
                Emit(parts.Right, _mergeable.TryGetValue(parts.Right, out var right) ? right : -1, reverseMerges, ids);
                return;
            }
            if (id >= 0)
            {
                ids.Add(id);
                return;
            }
            if (_byteFallback)
            {
                foreach (var b in Encoding.UTF8.GetBytes(piece))
                    ids.Add(_byteIds[b] >= 0 ? _byteIds[b] : _unkId);
                return;
            }
            ids.Add(_unkId);
        }

        private readonly struct MergeRule : IBpeMergeRule
        {
            private readonly SentencePieceTokenizer _owner;
            private readonly string _text;

            public MergeRule(SentencePieceTokenizer owner, string text, Dictionary<string, (string, string)>? reverseMerges)
            {
                _owner = owner;
                _text = text;
                ReverseMerges = reverseMerges;
            }

            public Dictionary<string, (string Left, string Right)>? ReverseMerges { get; }

            public bool TryMerge(in BpeSymbol left, in BpeSymbol right, out double priority, out int mergedId)
            {
                priority = 0;
                mergedId = -1;
                // User-defined symbols are frozen: nothing merges into or across them.
                if (IsUserDefined(left.Id) || IsUserDefined(right.Id))
                    return false;
                var span = _text.AsSpan(left.Start, left.Length + right.Length);
                if (!_owner._mergeable.TryGetValue(span, out mergedId))
                    return false;
                priority = -_owner._scores[mergedId];
                if (ReverseMerges is not null && _owner._types[mergedId] == PieceType.Unused)
                    ReverseMerges[span.ToString()] = (_text.Substring(left.Start, left.Length), _text.Substring(right.Start, right.Length));
                return true;
            }

            private bool IsUserDefined(int id) => id >= 0 && _owner._types[id] == PieceType.UserDefined;
        }
    }
}
