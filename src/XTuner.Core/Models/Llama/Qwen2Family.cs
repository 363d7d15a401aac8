using System;
using System.IO;
using System.Linq;
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

        /// <summary>transformers' Qwen2Config default: the first 28 layers attend in full.</summary>
        public const int DefaultMaxWindowLayers = 28;

        /// <summary>With use_sliding_window, layers from max_window_layers on use the window (transformers' layer_types).</summary>
        public override bool HasSlidingWindow => true;

        public override int? SlidingWindow(ModelSpec spec, int layer) =>
            spec.UseSlidingWindow == true && layer >= (spec.MaxWindowLayers ?? DefaultMaxWindowLayers) ? spec.SlidingWindow : null;

        // Qwen2's config.json has no attention_bias: q/k/v always carry biases.
        public override void ReadConfig(JsonObject config, ModelSpec spec)
        {
            spec.AttentionBias = true;
            spec.UseSlidingWindow = HfJson.Bool(config, "use_sliding_window") ?? false;
            spec.SlidingWindow = HfJson.Int(config, "sliding_window");
            spec.MaxWindowLayers = HfJson.Int(config, "max_window_layers");
            // transformers follows layer_types where config.json has it, and derives it from max_window_layers where not.
            if (spec.UseSlidingWindow == true && config["layer_types"] is JsonArray types)
                spec.MaxWindowLayers = FullLayersBeforeWindows(types);
        }

        // The layers attending in full, when they all come before the windowed ones (the only layout max_window_layers
        // can say); any other layout is refused rather than trained with other windows than the checkpoint's.
        private static int FullLayersBeforeWindows(JsonArray types)
        {
            var names = types.Select(t => t?.GetValue<string>() ?? "").ToArray();
            int full = names.TakeWhile(n => n == "full_attention").Count();
            if (names.Skip(full).Any(n => n != "sliding_attention"))
                throw new InvalidDataException(
                    $"config.json: layer_types [{string.Join(", ", names)}] is not supported: only full_attention layers followed by sliding_attention layers " +
                    "(what max_window_layers describes) are. Set layer_types that way, or use_sliding_window: false to train every layer in full.");
            return full;
        }

        public override void WriteConfig(ModelSpec spec, JsonObject config)
        {
            config["use_sliding_window"] = spec.UseSlidingWindow ?? false;
            config["sliding_window"] = spec.SlidingWindow;
            config["max_window_layers"] = spec.MaxWindowLayers;
        }
    }
}
