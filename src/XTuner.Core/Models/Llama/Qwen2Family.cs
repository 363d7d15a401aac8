using System;
using System.Text.Json.Nodes;
using XTuner.Core.Configuration;

namespace XTuner.Core.Models.Llama
{
    /// <summary>Qwen2: the Llama block with biases on q, k and v (never on o_proj) and ChatML.</summary>
    public sealed class Qwen2Family : ModelFamily
    {
        public override ModelArchitecture Architecture => ModelArchitecture.Qwen2;

        public override string ArchitectureClass => "Qwen2ForCausalLM";

        public override bool HasQkvBias(ModelSpec spec) => true;

        public override bool HasOutputProjectionBias(ModelSpec spec) => false;

        public override string DefaultPromptTemplate(Func<string, bool> hasToken) => "chatml";

        // Qwen2's config.json has no attention_bias: q/k/v always carry biases.
        public override void ReadConfig(JsonObject config, ModelSpec spec) => spec.AttentionBias = true;

        public override void WriteConfig(ModelSpec spec, JsonObject config)
        {
        }
    }
}
