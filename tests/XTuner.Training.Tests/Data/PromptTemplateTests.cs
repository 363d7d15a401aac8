using System.Collections.Generic;
using System.Linq;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Training.Data;
using XTuner.Training.Tests.Tokenization;
using XTuner.Training.Tokenization;
using Xunit;

namespace XTuner.Training.Tests.Data
{
    public class PromptTemplateTests
    {
        private static readonly ConversationTurn[] TwoTurns =
        {
            new ConversationTurn("S", "Q1", "A1"),
            new ConversationTurn(null, "Q2", "A2"),
        };

        /// <summary>
        /// The exact layout of a two-turn conversation with a system text under each template, byte tokenizer:
        /// «learned» text, {bos} and {eos} ids, everything else masked.
        /// </summary>
        [Theory]
        [InlineData("alpaca", "{bos}S\n\n### Instruction:\nQ1\n\n### Response:\n«A1{eos}»\n\n{bos}### Instruction:\nQ2\n\n### Response:\n«A2{eos}»")]
        [InlineData("default", "{bos}<|System|>:S\n<|User|>:Q1\n<|Bot|>:«A1{eos}»\n{bos}<|User|>:Q2\n<|Bot|>:«A2{eos}»")]
        [InlineData("llama2_chat", "{bos}[INST] <<SYS>>\nS\n<</SYS>>\n\nQ1 [/INST]«A1{eos}»{bos}[INST] Q2 [/INST]«A2{eos}»")]
        [InlineData("llama3_chat",
            "{bos}<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ1<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n«A1<|eot_id|>»<|start_header_id|>user<|end_header_id|>\n\nQ2<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n«A2<|eot_id|>»")]
        [InlineData("mistral", "{bos}[INST] S\n\nQ1 [/INST]«A1{eos}»[INST] Q2 [/INST]«A2{eos}»")]
        [InlineData("chatml",
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n«A1<|im_end|>»\n" +
            "<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n«A2<|im_end|>»")]
        [InlineData("internlm2_chat",
            "{bos}<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n«A1<|im_end|>»\n" +
            "<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n«A2<|im_end|>»")]
        [InlineData("cohere_chat",
            "{bos}<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>S<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Q1<|END_OF_TURN_TOKEN|>" +
            "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>«A1<|END_OF_TURN_TOKEN|>»<|START_OF_TURN_TOKEN|><|USER_TOKEN|>Q2<|END_OF_TURN_TOKEN|>" +
            "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>«A2<|END_OF_TURN_TOKEN|>»")]
        public void TemplateLaysOutTurnsAndMasksAllButTheReplies(string template, string layout)
        {
            var sample = new ConversationEncoder(PromptTemplates.Get(template), new ByteTokenizer()).Encode(TwoTurns);
            var (ids, labels) = Expected(layout);
            Assert.Equal(ids, sample.InputIds);
            Assert.Equal(labels, sample.Labels);
        }

        [Fact]
        public void EveryTemplateIsCovered() =>
            Assert.Equal(new[] { "alpaca", "default", "llama2_chat", "llama3_chat", "mistral", "chatml", "internlm2_chat", "cohere_chat" },
                PromptTemplates.Names);

        [Fact]
        public void ChatMlEndTokenIsOneLearnedSpecialIdWithARealTokenizer()
        {
            var tokenizer = TokenizerLoader.Load(Fixtures.BpeJson);
            var sample = new ConversationEncoder(PromptTemplates.Get("chatml"), tokenizer).Encode(TwoTurns);
            Assert.Equal(1, sample.InputIds[0]);
            var learned = sample.Labels.Where(l => l != -100).ToArray();
            var a1 = tokenizer.Encode("A1");
            var a2 = tokenizer.Encode("A2");
            Assert.Equal(a1.Append(2).Concat(a2).Append(2), learned);
            Assert.Equal(2, sample.InputIds[^1]);
            Assert.Equal(5, sample.InputIds.Count(id => id == 1)); // system, user, assistant, user, assistant
        }

        [Fact]
        public void UnknownTemplateIsAnErrorListingTheNames()
        {
            var ex = Assert.Throws<XTunerException>(() => PromptTemplates.Get("vicuna"));
            Assert.Equal(ErrorIds.InvalidConfigValue, ex.ErrorId);
            Assert.Contains("'vicuna'", ex.Message);
            Assert.Contains("llama3_chat", ex.Message);
            Assert.Contains("cohere_chat", ex.Message);
        }

        [Theory]
        [InlineData(null, "CHATML", DatasetFormat.Chat, "chatml")]
        [InlineData(ModelArchitecture.Mistral, null, DatasetFormat.Chat, "mistral")]
        [InlineData(ModelArchitecture.Qwen2, null, DatasetFormat.Alpaca, "chatml")]
        [InlineData(ModelArchitecture.InternLM2, null, DatasetFormat.Chat, "internlm2_chat")]
        [InlineData(ModelArchitecture.Cohere, null, DatasetFormat.Chat, "cohere_chat")]
        [InlineData(ModelArchitecture.Llama, null, DatasetFormat.Chat, "llama2_chat")]
        [InlineData(null, null, DatasetFormat.Chat, "default")]
        public void TemplateComesFromTheConfigElseTheArchitecture(ModelArchitecture? architecture, string? name, DatasetFormat format, string expected)
        {
            var config = new XTunerConfig { PromptTemplate = name, DatasetFormat = format };
            config.Model.Architecture = architecture;
            Assert.Equal(expected, PromptTemplates.Resolve(config, new TokenizerWith()).Name);
        }

        [Theory]
        [InlineData("<|start_header_id|>", "llama3_chat")]
        [InlineData("<|im_start|>", "chatml")]
        public void LlamaCheckpointsWithChatTokensGetTheirTemplate(string token, string expected)
        {
            var config = new XTunerConfig { DatasetFormat = DatasetFormat.Chat };
            config.Model.Architecture = ModelArchitecture.Llama;
            Assert.Equal(expected, PromptTemplates.Resolve(config, new TokenizerWith(token)).Name);
        }

        [Theory]
        [InlineData(DatasetFormat.Alpaca, "alpaca")]
        [InlineData(DatasetFormat.Chat, "default")]
        public void ByteTokenizerDefaultsToAlpacaForAlpacaDataAndDefaultForChats(DatasetFormat format, string expected)
        {
            var config = new XTunerConfig { DatasetFormat = format };
            config.Model.Architecture = ModelArchitecture.Llama;
            Assert.Equal(expected, PromptTemplates.Resolve(config, new ByteTokenizer()).Name);
        }

        private static (int[] Ids, int[] Labels) Expected(string layout)
        {
            var ids = new List<int>();
            var labels = new List<int>();
            var learn = false;
            for (var i = 0; i < layout.Length; i++)
            {
                if (layout[i] == '«' || layout[i] == '»')
                {
                    learn = layout[i] == '«';
                    continue;
                }
                int[] tokens;
                if (string.CompareOrdinal(layout, i, "{bos}", 0, 5) == 0)
                {
                    tokens = new[] { ByteTokenizer.Bos };
                    i += 4;
                }
                else if (string.CompareOrdinal(layout, i, "{eos}", 0, 5) == 0)
                {
                    tokens = new[] { ByteTokenizer.Eos };
                    i += 4;
                }
                else
                    tokens = DataFiles.Bytes(layout[i].ToString());
                ids.AddRange(tokens);
                labels.AddRange(learn ? tokens : DataFiles.Masked(tokens.Length));
            }
            return (ids.ToArray(), labels.ToArray());
        }

        /// <summary>A tokenizer that knows the given whole tokens (beside the byte tokenizer's).</summary>
        private sealed class TokenizerWith : ITextTokenizer
        {
            private readonly ByteTokenizer _bytes = new ByteTokenizer();
            private readonly string[] _tokens;

            public TokenizerWith(params string[] tokens) => _tokens = tokens;

            public int VocabSize => 259 + _tokens.Length;
            public int? BosTokenId => _bytes.BosTokenId;
            public int? EosTokenId => _bytes.EosTokenId;
            public int? PadTokenId => _bytes.PadTokenId;
            public IReadOnlyList<int> Encode(string text) => _bytes.Encode(text);
            public string Decode(IEnumerable<int> ids) => _bytes.Decode(ids);
            public int? TokenToId(string token) => System.Array.IndexOf(_tokens, token) is var i and >= 0 ? 259 + i : _bytes.TokenToId(token);
            public void SaveTo(string directory) => _bytes.SaveTo(directory);
        }
    }
}
