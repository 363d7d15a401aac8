using System;
using System.Collections.Generic;
using System.Linq;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Training.Tokenization;

namespace XTuner.Training.Data
{
    /// <summary>
    /// The prompt templates, after XTuner's <c>PROMPT_TEMPLATE</c> and each family's published chat template.
    /// </summary>
    public static class PromptTemplates
    {
        private static readonly PromptTemplate[] All =
        {
            // Stanford Alpaca's layout.
            new PromptTemplate("alpaca", "{system}\n\n", "{system}### Instruction:\n{input}\n\n### Response:\n", "", false, "\n\n", BosPlacement.EveryTurn),
            // XTuner's default, for tokenizers without a chat format of their own.
            new PromptTemplate("default", "<|System|>:{system}\n", "{system}<|User|>:{input}\n<|Bot|>:", "", false, "\n", BosPlacement.EveryTurn),
            // <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {reply} </s><s>[INST] ...
            new PromptTemplate("llama2_chat", "<<SYS>>\n{system}\n<</SYS>>\n\n", "[INST] {system}{input} [/INST]", "", false, "", BosPlacement.EveryTurn),
            new PromptTemplate("llama3_chat", "<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>",
                "{system}<|start_header_id|>user<|end_header_id|>\n\n{input}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                "<|eot_id|>", true, "", BosPlacement.FirstTurn),
            // <s>[INST] {system}\n\n{user} [/INST]{reply}</s>[INST] ...: one bos per conversation.
            new PromptTemplate("mistral", "{system}\n\n", "[INST] {system}{input} [/INST]", "", false, "", BosPlacement.FirstTurn),
            // Qwen2 and Yi.
            new PromptTemplate("chatml", "<|im_start|>system\n{system}<|im_end|>\n",
                "{system}<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n", "<|im_end|>", true, "\n", BosPlacement.None),
            // ChatML after InternLM2's bos.
            new PromptTemplate("internlm2_chat", "<|im_start|>system\n{system}<|im_end|>\n",
                "{system}<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n", "<|im_end|>", true, "\n", BosPlacement.FirstTurn),
            new PromptTemplate("cohere_chat", "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>{system}<|END_OF_TURN_TOKEN|>",
                "{system}<|START_OF_TURN_TOKEN|><|USER_TOKEN|>{input}<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>",
                "<|END_OF_TURN_TOKEN|>", true, "", BosPlacement.FirstTurn),
        };

        /// <summary>Template names, for prompt_template and completion.</summary>
        public static IReadOnlyList<string> Names { get; } = All.Select(t => t.Name).ToArray();

        /// <summary>The template called <paramref name="name"/> (case-insensitive); an error listing the names otherwise.</summary>
        public static PromptTemplate Get(string name) =>
            All.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new XTunerException(ErrorIds.InvalidConfigValue,
                $"Unknown prompt_template '{name}'; known templates: {string.Join(", ", Names)}.");

        /// <summary>
        /// The config's prompt_template, else the model's own: alpaca data gets alpaca and chat data the default template
        /// with the byte tokenizer; otherwise the architecture decides, with the tokenizer telling Llama 3 (and ChatML
        /// models such as Yi) from Llama 2.
        /// </summary>
        public static PromptTemplate Resolve(XTunerConfig config, ITextTokenizer tokenizer)
        {
            if (!string.IsNullOrWhiteSpace(config.PromptTemplate))
                return Get(config.PromptTemplate!.Trim());
            if (tokenizer is ByteTokenizer)
                return Get(config.DatasetFormat == DatasetFormat.Alpaca ? "alpaca" : "default");
            if (config.Model.Architecture != null)
                return Get(config.Model.Family.DefaultPromptTemplate(token => Has(tokenizer, token)));
            // No architecture to ask (a tokenizer-only config): the tokenizer's special tokens tell.
            return Get(Has(tokenizer, "<|start_header_id|>") ? "llama3_chat"
                : Has(tokenizer, "<|START_OF_TURN_TOKEN|>") ? "cohere_chat"
                : Has(tokenizer, "<|im_start|>") ? "chatml"
                : "default");
        }

        private static bool Has(ITextTokenizer tokenizer, string token) => tokenizer.TokenToId(token) is not null;
    }
}
