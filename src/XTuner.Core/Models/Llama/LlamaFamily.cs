using System;
using XTuner.Core.Configuration;

namespace XTuner.Core.Models.Llama
{
    /// <summary>Llama 2 and 3, and checkpoints that reuse its model_type (Yi, many ChatML fine-tunes).</summary>
    public sealed class LlamaFamily : ModelFamily
    {
        public override ModelArchitecture Architecture => ModelArchitecture.Llama;

        public override string ArchitectureClass => "LlamaForCausalLM";

        public override string DefaultPromptTemplate(Func<string, bool> hasToken) =>
            hasToken("<|start_header_id|>") ? "llama3_chat" : hasToken("<|im_start|>") ? "chatml" : "llama2_chat";
    }
}
