using System.Collections.Generic;
using System.Text.Json;
using XTuner.Core.Configuration;
using XTuner.Training.Tokenization;

namespace XTuner.Training.Data
{
    /// <summary>One JSONL line of a dataset format to a <see cref="TokenizedSample"/>; <see cref="BadLineException"/> says why not.</summary>
    internal sealed class SampleParser
    {
        private readonly DatasetFormat _format;
        private readonly ITextTokenizer? _tokenizer;
        private readonly ConversationEncoder? _encoder;
        private readonly int? _vocabSize;

        public SampleParser(DatasetFormat format, ITextTokenizer? tokenizer, ConversationEncoder? encoder, int? vocabSize)
        {
            _format = format;
            _tokenizer = tokenizer;
            _encoder = encoder;
            _vocabSize = vocabSize;
        }

        public TokenizedSample Parse(string line)
        {
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(line);
            }
            catch (JsonException ex)
            {
                throw new BadLineException($"not valid JSON ({ex.Message})", ex);
            }
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                    throw new BadLineException($"expected a JSON object, found {Kind(root)}");
                var sample = _format switch
                {
                    DatasetFormat.Text => Text(root),
                    DatasetFormat.Alpaca => Alpaca(root),
                    DatasetFormat.Chat => Chat(root),
                    _ => Tokenized(root),
                };
                if (sample.Length == 0)
                    throw new BadLineException("the sample has no tokens");
                return sample;
            }
        }

        // Pre-training text: bos (not a target: nothing predicts it), the text, eos, as XTuner's pretrain_map_fn.
        private TokenizedSample Text(JsonElement root)
        {
            var text = RequiredString(root, "text");
            var ids = new List<int>();
            var labels = new List<int>();
            if (_tokenizer!.BosTokenId is int bos)
            {
                ids.Add(bos);
                labels.Add(TokenizedSample.IgnoreIndex);
            }
            var tokens = _tokenizer.Encode(text);
            ids.AddRange(tokens);
            labels.AddRange(tokens);
            if (_tokenizer.EosTokenId is int eos)
            {
                ids.Add(eos);
                labels.Add(eos);
            }
            return new TokenizedSample(ids.ToArray(), labels.ToArray());
        }

        // XTuner's alpaca_map_fn: one turn whose input is the instruction, then the input on its own line if there is one.
        private TokenizedSample Alpaca(JsonElement root)
        {
            var instruction = RequiredString(root, "instruction");
            var input = OptionalString(root, "input");
            var output = RequiredString(root, "output");
            var prompt = string.IsNullOrEmpty(input) ? instruction : instruction + "\n" + input;
            return _encoder!.Encode(new[] { new ConversationTurn(null, prompt, output) });
        }

        // XTuner's openai_map_fn: system applies to the next exchange, consecutive user messages join, leading replies
        // and a trailing unanswered prompt are dropped; "loss": false marks a reply as context only.
        private TokenizedSample Chat(JsonElement root)
        {
            if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
                throw new BadLineException("missing \"messages\" (an array of {\"role\", \"content\"} objects)");
            var turns = new List<ConversationTurn>();
            string? system = null;
            var input = "";
            var leading = true;
            var index = 0;
            foreach (var message in messages.EnumerateArray())
            {
                var where = $"messages[{index++}]";
                if (message.ValueKind != JsonValueKind.Object)
                    throw new BadLineException($"{where} is {Kind(message)}, not an object");
                var role = RequiredString(message, "role", where);
                var content = RequiredString(message, "content", where);
                switch (role)
                {
                    case "system":
                        system = content;
                        leading = false;
                        break;
                    case "user":
                        input += content;
                        leading = false;
                        break;
                    case "assistant":
                        if (leading)
                            continue;
                        var learn = !message.TryGetProperty("loss", out var loss) || loss.ValueKind != JsonValueKind.False;
                        turns.Add(new ConversationTurn(system, input, content, learn));
                        system = null;
                        input = "";
                        break;
                    default:
                        throw new BadLineException($"{where} has role \"{role}\"; expected system, user or assistant");
                }
            }
            if (turns.Count == 0)
                throw new BadLineException("\"messages\" has no assistant reply to learn from");
            return _encoder!.Encode(turns);
        }

        private TokenizedSample Tokenized(JsonElement root)
        {
            var ids = IntArray(root, "input_ids") ?? throw new BadLineException("missing \"input_ids\" (an array of token ids)");
            var labels = IntArray(root, "labels") ?? (int[])ids.Clone();
            if (labels.Length != ids.Length)
                throw new BadLineException($"\"labels\" has {labels.Length} entries but \"input_ids\" has {ids.Length}");
            for (var i = 0; i < ids.Length; i++)
            {
                if (ids[i] < 0 || (_vocabSize is int v && ids[i] >= v))
                    throw new BadLineException($"input_ids[{i}] = {ids[i]} is outside the vocabulary (0..{(_vocabSize ?? int.MaxValue) - 1})");
                if (labels[i] != TokenizedSample.IgnoreIndex && (labels[i] < 0 || (_vocabSize is int w && labels[i] >= w)))
                    throw new BadLineException($"labels[{i}] = {labels[i]} is neither -100 nor a token id");
            }
            return new TokenizedSample(ids, labels);
        }

        private static int[]? IntArray(JsonElement root, string name)
        {
            if (!root.TryGetProperty(name, out var array))
                return null;
            if (array.ValueKind != JsonValueKind.Array)
                throw new BadLineException($"\"{name}\" is {Kind(array)}, not an array of integers");
            var values = new int[array.GetArrayLength()];
            var i = 0;
            foreach (var item in array.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out values[i]))
                    throw new BadLineException($"{name}[{i}] is {item.GetRawText()}, not an integer");
                i++;
            }
            return values;
        }

        private static string RequiredString(JsonElement e, string name, string? where = null)
        {
            var owner = where is null ? "" : where + " ";
            if (!e.TryGetProperty(name, out var value))
                throw new BadLineException($"{owner}missing \"{name}\"");
            if (value.ValueKind != JsonValueKind.String)
                throw new BadLineException($"{owner}\"{name}\" is {Kind(value)}, not a string");
            return value.GetString()!;
        }

        private static string? OptionalString(JsonElement e, string name)
        {
            if (!e.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
                return null;
            if (value.ValueKind != JsonValueKind.String)
                throw new BadLineException($"\"{name}\" is {Kind(value)}, not a string");
            return value.GetString();
        }

        private static string Kind(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "null",
        };
    }
}
