using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace XTuner.Training.Tokenization.HuggingFace
{
    /// <summary>
    /// A Hugging Face tokenizer.json with a BPE model: byte-level (GPT-2, Llama 3, Qwen2) or converted from SentencePiece
    /// (Llama 2, Mistral, Yi: Metaspace or Prepend/Replace, byte fallback). Encodes as <c>tokenizers</c> does without
    /// post-processing (no bos/eos added).
    /// </summary>
    public sealed class HuggingFaceTokenizer : ITextTokenizer
    {
        private readonly string _path;
        private readonly BpeModel _model;
        private readonly Func<string, string>? _normalizer;
        private readonly Action<List<PreToken>, List<PreToken>>? _preTokenizer;
        private readonly Func<List<string>, List<string>>? _decoder;
        private readonly AddedTokenSplitter _splitter;
        private readonly Dictionary<string, int> _addedByContent;
        private readonly Dictionary<int, string> _idToToken;

        private HuggingFaceTokenizer(string path, JsonElement root)
        {
            _path = path;
            var model = JsonFields.Object(root, "model") ?? throw new FormatException("\"model\" is missing");
            var modelType = JsonFields.String(model, "type") ?? (model.TryGetProperty("merges", out _) ? "BPE" : "?");
            if (modelType != "BPE")
                throw new FormatException($"model type '{modelType}' is not supported (BPE only)");
            if (JsonFields.String(model, "continuing_subword_prefix") is { Length: > 0 } || JsonFields.String(model, "end_of_word_suffix") is { Length: > 0 })
                throw new FormatException("BPE continuing_subword_prefix / end_of_word_suffix are not supported");
            _model = new BpeModel(ReadVocab(model), ReadMerges(model), JsonFields.String(model, "unk_token"),
                JsonFields.Bool(model, "byte_fallback", false), JsonFields.Bool(model, "fuse_unk", false),
                JsonFields.Bool(model, "ignore_merges", false));

            _normalizer = Normalizers.From(JsonFields.Object(root, "normalizer"));
            _preTokenizer = PreTokenizers.From(JsonFields.Object(root, "pre_tokenizer"));
            _decoder = Decoders.From(JsonFields.Object(root, "decoder"));

            var added = new List<AddedToken>();
            if (root.TryGetProperty("added_tokens", out var addedTokens) && addedTokens.ValueKind == JsonValueKind.Array)
                foreach (var t in addedTokens.EnumerateArray())
                    added.Add(new AddedToken(JsonFields.RequiredString(t, "content"), JsonFields.Int(t, "id", -1),
                        JsonFields.Bool(t, "lstrip", false), JsonFields.Bool(t, "rstrip", false), JsonFields.Bool(t, "single_word", false)));
            if (added.FirstOrDefault(t => t.Id < 0) is AddedToken bad)
                throw new FormatException($"added token '{bad.Content}' has no id");
            _splitter = new AddedTokenSplitter(added);
            _addedByContent = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var t in added)
                _addedByContent[t.Content] = t.Id;

            _idToToken = new Dictionary<int, string>(_model.Vocab.Count + added.Count);
            foreach (var (token, id) in _model.Vocab)
                _idToToken[id] = token;
            foreach (var t in added)
                _idToToken[t.Id] = t.Content;
            VocabSize = Math.Max(_model.IdLimit, added.Count == 0 ? 0 : added.Max(t => t.Id) + 1);

            var config = TokenizerConfigFiles.Read(Path.GetDirectoryName(path)!);
            BosTokenId = config.BosId(TokenToId);
            EosTokenId = config.EosId(TokenToId);
            PadTokenId = config.PadId(TokenToId);
        }

        public int VocabSize { get; }

        public int? BosTokenId { get; }

        public int? EosTokenId { get; }

        public int? PadTokenId { get; }

        /// <summary>Reads a tokenizer.json (and the tokenizer_config.json / special_tokens_map.json beside it).</summary>
        public static HuggingFaceTokenizer Load(string path)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { MaxDepth = 256 });
            return new HuggingFaceTokenizer(path, doc.RootElement);
        }

        public IReadOnlyList<int> Encode(string text)
        {
            var ids = new List<int>(text.Length / 3 + 4);
            var pieces = new List<PreToken>();
            var split = new List<PreToken>();
            foreach (var segment in _splitter.Split(text))
            {
                if (segment.IsToken)
                {
                    ids.Add(segment.TokenId);
                    continue;
                }
                var normalized = _normalizer is null ? segment.Text! : _normalizer(segment.Text!);
                if (normalized.Length == 0)
                    continue;
                pieces.Clear();
                pieces.Add(new PreToken(normalized, segment.Offset == 0));
                if (_preTokenizer is not null)
                {
                    split.Clear();
                    _preTokenizer(pieces, split);
                    (pieces, split) = (split, pieces);
                }
                foreach (var piece in pieces)
                    _model.Encode(piece.Text, ids);
            }
            return ids;
        }

        public string Decode(IEnumerable<int> ids)
        {
            var tokens = new List<string>();
            foreach (var id in ids)
                if (_idToToken.TryGetValue(id, out var token))
                    tokens.Add(token);
            return _decoder is null ? string.Join(" ", tokens) : string.Concat(_decoder(tokens));
        }

        public int? TokenToId(string token) =>
            _addedByContent.TryGetValue(token, out var added) ? added
            : _model.Vocab.TryGetValue(token, out var id) ? id
            : null;

        public void SaveTo(string directory) => TokenizerConfigFiles.CopyWith(_path, directory);

        public override string ToString() => _path;

        private static Dictionary<string, int> ReadVocab(JsonElement model)
        {
            var vocab = JsonFields.Object(model, "vocab") ?? throw new FormatException("model \"vocab\" is missing or not an object");
            var result = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var entry in vocab.EnumerateObject())
                result[entry.Name] = entry.Value.GetInt32();
            return result;
        }

        private static List<(string, string)> ReadMerges(JsonElement model)
        {
            var merges = new List<(string, string)>();
            if (!model.TryGetProperty("merges", out var array) || array.ValueKind != JsonValueKind.Array)
                return merges;
            foreach (var merge in array.EnumerateArray())
            {
                if (merge.ValueKind == JsonValueKind.String)
                {
                    var parts = merge.GetString()!.Split(' ');
                    if (parts.Length != 2)
                        throw new FormatException($"merge \"{merge.GetString()}\" is not two tokens separated by one space");
                    merges.Add((parts[0], parts[1]));
                }
                else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2)
                    merges.Add((merge[0].GetString()!, merge[1].GetString()!));
                else
                    throw new FormatException($"merge {JsonFields.Brief(merge)} is neither \"a b\" nor [\"a\", \"b\"]");
            }
            return merges;
        }
    }
}
