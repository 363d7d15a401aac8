using System;
using System.Text.Json.Nodes;
using XTuner.Core.Configuration;

namespace XTuner.Core.Models.Llama
{
    /// <summary>Mistral: the Llama block under its own model_type and chat template.</summary>
    public sealed class MistralFamily : ModelFamily
    {
        public override ModelArchitecture Architecture => ModelArchitecture.Mistral;

        public override string ArchitectureClass => "MistralForCausalLM";

        public override string DefaultPromptTemplate(Func<string, bool> hasToken) => "mistral";

        // Every layer, when config.json sets one (Mistral 7B v0.1: 4096; later versions: null).
        public override bool HasSlidingWindow => true;

        public override int? SlidingWindow(ModelSpec spec, int layer) => spec.SlidingWindow;

        public override void ReadConfig(JsonObject config, ModelSpec spec)
        {
            base.ReadConfig(config, spec);
            spec.SlidingWindow = HfJson.Int(config, "sliding_window");
        }

        public override void WriteConfig(ModelSpec spec, JsonObject config)
        {
            base.WriteConfig(spec, config);
            config["sliding_window"] = spec.SlidingWindow;
        }
    }
}
