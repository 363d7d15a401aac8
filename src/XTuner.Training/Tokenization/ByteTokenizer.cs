using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace XTuner.Training.Tokenization
{
    /// <summary>
    /// Ids 0-255 are the UTF-8 bytes of the text; 256 <c>&lt;s&gt;</c>, 257 <c>&lt;/s&gt;</c> and 258 <c>&lt;pad&gt;</c>.
    /// Needs no files, so tiny models and tests train anywhere; it saves as a byte-level BPE tokenizer.json without
    /// merges, which transformers loads to the same ids.
    /// </summary>
    public sealed class ByteTokenizer : ITextTokenizer
    {
        public const int Bos = 256;
        public const int Eos = 257;
        public const int Pad = 258;
        public const string BosToken = "<s>";
        public const string EosToken = "</s>";
        public const string PadToken = "<pad>";

        private static readonly string[] SpecialTokens = { BosToken, EosToken, PadToken };

        private readonly AddedTokenSplitter _splitter = new AddedTokenSplitter(new[]
        {
            new AddedToken(BosToken, Bos), new AddedToken(EosToken, Eos), new AddedToken(PadToken, Pad),
        });

        public int VocabSize => Core.Models.TokenizerVocabulary.ByteTokenizerSize;

        public int? BosTokenId => Bos;

        public int? EosTokenId => Eos;

        public int? PadTokenId => Pad;

        public IReadOnlyList<int> Encode(string text)
        {
            var ids = new List<int>(text.Length + 2);
            foreach (var segment in _splitter.Split(text))
            {
                if (segment.IsToken)
                    ids.Add(segment.TokenId);
                else
                    foreach (var b in Encoding.UTF8.GetBytes(segment.Text!))
                        ids.Add(b);
            }
            return ids;
        }

        public string Decode(IEnumerable<int> ids)
        {
            var text = new StringBuilder();
            var bytes = new List<byte>();
            foreach (var id in ids)
            {
                if (id >= 0 && id < 256)
                {
                    bytes.Add((byte)id);
                    continue;
                }
                text.Append(Encoding.UTF8.GetString(bytes.ToArray()));
                bytes.Clear();
                if (id >= Bos && id <= Pad)
                    text.Append(SpecialTokens[id - Bos]);
            }
            return text.Append(Encoding.UTF8.GetString(bytes.ToArray())).ToString();
        }

        public int? TokenToId(string token)
        {
            var special = Array.IndexOf(SpecialTokens, token);
            if (special >= 0)
                return Bos + special;
            var bytes = Encoding.UTF8.GetBytes(token);
            return bytes.Length == 1 ? bytes[0] : null;
        }

        /// <summary>Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json.</summary>
        public void SaveTo(string directory)
        {
            Directory.CreateDirectory(directory);
            Write(Path.Combine(directory, "tokenizer.json"), WriteTokenizerJson);
            Write(Path.Combine(directory, "tokenizer_config.json"), WriteTokenizerConfig);
            Write(Path.Combine(directory, "special_tokens_map.json"), w =>
            {
                w.WriteStartObject();
                WriteSpecialTokenNames(w);
                w.WriteEndObject();
            });
        }

        public override string ToString() => "byte";

        private static void Write(string path, Action<Utf8JsonWriter> write)
        {
            using var stream = File.Create(path);
            using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            write(writer);
        }

        private static void WriteTokenizerJson(Utf8JsonWriter w)
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            for (var i = 0; i < SpecialTokens.Length; i++)
            {
                w.WriteStartObject();
                w.WriteNumber("id", Bos + i);
                w.WriteString("content", SpecialTokens[i]);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("normalizer");
            w.WriteStartObject("pre_tokenizer");
            WriteByteLevel(w);
            w.WriteEndObject();
            w.WriteNull("post_processor");
            w.WriteStartObject("decoder");
            WriteByteLevel(w);
            w.WriteEndObject();
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            w.WriteNull("unk_token");
            w.WriteNull("continuing_subword_prefix");
            w.WriteNull("end_of_word_suffix");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            w.WriteBoolean("ignore_merges", false);
            w.WriteStartObject("vocab");
            for (var b = 0; b < 256; b++)
                w.WriteNumber(ByteLevelAlphabet.ByteToChar[b].ToString(), b);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }

        // No GPT-2 regex and no prefix space: every byte of the text maps to its own symbol, and there are no merges.
        private static void WriteByteLevel(Utf8JsonWriter w)
        {
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", false);
            w.WriteBoolean("trim_offsets", true);
            w.WriteBoolean("use_regex", false);
        }

        private static void WriteTokenizerConfig(Utf8JsonWriter w)
        {
            w.WriteStartObject();
            w.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
            WriteSpecialTokenNames(w);
            w.WriteBoolean("clean_up_tokenization_spaces", false);
            w.WriteStartObject("added_tokens_decoder");
            for (var i = 0; i < SpecialTokens.Length; i++)
            {
                w.WriteStartObject((Bos + i).ToString(System.Globalization.CultureInfo.InvariantCulture));
                w.WriteString("content", SpecialTokens[i]);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }

        private static void WriteSpecialTokenNames(Utf8JsonWriter w)
        {
            w.WriteString("bos_token", BosToken);
            w.WriteString("eos_token", EosToken);
            w.WriteString("pad_token", PadToken);
        }
    }
}
