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

        /// <summary>With use_sliding_window, layers from max_window_layers on use the window (transformers' layer_types).</summary>
        public override bool HasSlidingWindow => true;

        public override int? SlidingWindow(ModelSpec spec, int layer) =>
            spec.UseSlidingWindow == true && layer >= (spec.MaxWindowLayers ?? 0) ? spec.SlidingWindow : null;

        // Qwen2's config.json has no attention_bias: q/k/v always carry biases.
        public override void ReadConfig(JsonObject config, ModelSpec spec)
        {
            spec.AttentionBias = true;
            spec.UseSlidingWindow = HfJson.Bool(config, "use_sliding_window") ?? false;
            spec.SlidingWindow = HfJson.Int(config, "sliding_window");
            spec.MaxWindowLayers = HfJson.Int(config, "max_window_layers");
        }

        public override void WriteConfig(ModelSpec spec, JsonObject config)
        {
            config["use_sliding_window"] = spec.UseSlidingWindow ?? false;
            config["sliding_window"] = spec.SlidingWindow;
            config["max_window_layers"] = spec.MaxWindowLayers;
        }
    }
}
