using System;
using System.Text.Json.Nodes;
using XTuner.Core.Configuration;

namespace XTuner.Core.Models.InternLM2
{
    /// <summary>InternLM2: the Llama block under its own names (tok_embeddings, output, a packed wqkv) and remote code.</summary>
    public sealed class InternLM2Family : ModelFamily
    {
        public override ModelArchitecture Architecture => ModelArchitecture.InternLM2;

        public override string ArchitectureClass => "InternLM2ForCausalLM";

        public override string EmbeddingName => "tok_embeddings";

        public override string OutputHeadName => "output";

        public override string DefaultPromptTemplate(Func<string, bool> hasToken) => "internlm2_chat";

        // One key, bias, covers wqkv and wo.
        public override void ReadConfig(JsonObject config, ModelSpec spec) => spec.AttentionBias = HfJson.Bool(config, "bias") ?? false;

        public override void WriteConfig(ModelSpec spec, JsonObject config)
        {
            config["bias"] = spec.AttentionBias ?? false;
            config["auto_map"] = new JsonObject
            {
                ["AutoConfig"] = "configuration_internlm2.InternLM2Config",
                ["AutoModelForCausalLM"] = "modeling_internlm2.InternLM2ForCausalLM",
            };
            // InternLM2's remote code reads rope_scaling["type"], the key older transformers used, not rope_type.
            if (config["rope_scaling"] is JsonObject scaling && spec.RopeScaling != null)
                scaling["type"] = ConfigValues.FormatEnum(spec.RopeScaling.RopeType);
        }
    }
}
