using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace XTuner.Training.Tests.Tokenization
{
    /// <summary>
    /// Tiny tokenizer.json files in the two shapes that SentencePiece conversions (Llama 2, Mistral, Yi) take: a Metaspace
    /// pre-tokenizer, or the older Prepend("▁") + Replace(" ", "▁") normalizer with no pre-tokenizer.
    /// Vocabulary: 0 &lt;unk&gt;, 1 &lt;s&gt;, 2 &lt;/s&gt;, 3-258 &lt;0x00&gt;-&lt;0xFF&gt;, then 259 ▁ 260 h 261 e 262 l 263 o 264 w
    /// 265 r 266 d 267 ▁h 268 ll 269 ▁he 270 llo 271 ▁hello 272 ▁w 273 or 274 ▁wor.
    /// </summary>
    internal static class SentencePieceStyleJson
    {
        public const int Unk = 0, Bos = 1, Eos = 2, Space = 259, H = 260, E = 261, L = 262, D = 266, SpaceH = 267, Llo = 270, SpaceHello = 271, SpaceWor = 274;

        public static int Byte(int b) => 3 + b;

        private static readonly string[] Pieces = { "▁", "h", "e", "l", "o", "w", "r", "d", "▁h", "ll", "▁he", "llo", "▁hello", "▁w", "or", "▁wor" };

        private static readonly string[] Merges = { "▁ h", "l l", "▁h e", "ll o", "▁he llo", "▁ w", "o r", "▁w or" };

        /// <summary>Metaspace("▁", prepend_scheme first, split false) with byte fallback, as recent conversions write it.</summary>
        public static string WriteMetaspace(string folder) => Write(folder,
            normalizer: null,
            preTokenizer: new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "first", ["split"] = false },
            decoder: Sequence(new JsonObject { ["type"] = "ByteFallback" },
                new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "first", ["split"] = false },
                new JsonObject { ["type"] = "Fuse" }),
            byteFallback: true);

        /// <summary>Llama 2's original shape: Prepend + Replace normalizer, no pre-tokenizer; here without byte fallback, unk fused.</summary>
        public static string WriteLegacy(string folder) => Write(folder,
            normalizer: new JsonObject
            {
                ["type"] = "Sequence",
                ["normalizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" },
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "▁" }),
            },
            preTokenizer: null,
            decoder: Sequence(
                new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "▁" }, ["content"] = " " },
                new JsonObject { ["type"] = "ByteFallback" },
                new JsonObject { ["type"] = "Fuse" },
                new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 }),
            byteFallback: false);

        private static JsonObject Sequence(params JsonObject[] decoders) =>
            new JsonObject { ["type"] = "Sequence", ["decoders"] = new JsonArray(decoders.Cast<JsonNode>().ToArray()) };

        private static string Write(string folder, JsonObject? normalizer, JsonObject? preTokenizer, JsonObject decoder, bool byteFallback)
        {
            var vocab = new JsonObject { ["<unk>"] = Unk, ["<s>"] = Bos, ["</s>"] = Eos };
            for (var b = 0; b < 256; b++)
                vocab[$"<0x{b:X2}>"] = Byte(b);
            for (var i = 0; i < Pieces.Length; i++)
                vocab[Pieces[i]] = Space + i;
            var root = new JsonObject
            {
                ["version"] = "1.0",
                ["added_tokens"] = new JsonArray(Special(Unk, "<unk>"), Special(Bos, "<s>"), Special(Eos, "</s>")),
                ["normalizer"] = normalizer,
                ["pre_tokenizer"] = preTokenizer,
                ["post_processor"] = null,
                ["decoder"] = decoder,
                ["model"] = new JsonObject
                {
                    ["type"] = "BPE",
                    ["unk_token"] = "<unk>",
                    ["fuse_unk"] = true,
                    ["byte_fallback"] = byteFallback,
                    ["vocab"] = vocab,
                    ["merges"] = new JsonArray(Merges.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray()),
                },
            };
            var path = Path.Combine(folder, "tokenizer.json");
            File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return path;
        }

        private static JsonObject Special(int id, string content) => new JsonObject
        {
            ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
            ["normalized"] = false, ["special"] = true,
        };
    }
}
