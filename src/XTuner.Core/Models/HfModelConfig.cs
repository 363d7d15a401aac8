using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;
using System.Text.Json.Nodes;
using XTuner.Core.Configuration;

namespace XTuner.Core.Models
{
    /// <summary>
    /// Reads and writes Hugging Face <c>config.json</c> for the supported decoders, in both the transformers-4
    /// style (<c>rope_theta</c>, <c>rope_scaling</c>) and the transformers-5 style (<c>rope_parameters</c>).
    /// </summary>
    public static class HfModelConfig
    {
        private static readonly Dictionary<string, ModelArchitecture> ModelTypes = new Dictionary<string, ModelArchitecture>(StringComparer.OrdinalIgnoreCase)
        {
            ["llama"] = ModelArchitecture.Llama,
            ["mistral"] = ModelArchitecture.Mistral,
            ["qwen2"] = ModelArchitecture.Qwen2,
            ["internlm2"] = ModelArchitecture.InternLM2,
            ["cohere"] = ModelArchitecture.Cohere,
        };

        /// <summary>Reads <c>config.json</c> in a checkpoint folder (or the file itself).</summary>
        public static ModelSpec Read(string path)
        {
            var file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
            if (!File.Exists(file))
                throw new FileNotFoundException($"No config.json in '{path}': a Hugging Face checkpoint folder has config.json and model.safetensors.", file);
            try
            {
                return Parse(File.ReadAllText(file), file);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{file}: not valid JSON ({e.Message}).", e);
            }
        }

        public static ModelSpec Parse(string json, string source = "config.json")
        {
            var o = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source}: expected a JSON object.");
            var modelType = Str(o, "model_type") ?? "";
            if (!ModelTypes.TryGetValue(modelType, out var arch))
                throw new InvalidDataException($"{source}: model_type '{modelType}' is not supported; supported: {string.Join(", ", ModelTypes.Keys)}.");
            var spec = new ModelSpec
            {
                Architecture = arch,
                HiddenSize = Int(o, "hidden_size"),
                IntermediateSize = Int(o, "intermediate_size"),
                NumHiddenLayers = Int(o, "num_hidden_layers"),
                NumAttentionHeads = Int(o, "num_attention_heads"),
                VocabSize = Int(o, "vocab_size"),
                MaxPositionEmbeddings = Int(o, "max_position_embeddings"),
                HeadDim = Int(o, "head_dim"),
                NormEps = Dbl(o, "rms_norm_eps") ?? Dbl(o, "layer_norm_eps"),
                TieWordEmbeddings = Bool(o, "tie_word_embeddings") ?? DefaultTie(arch),
                UseQkNorm = arch == ModelArchitecture.Cohere ? Bool(o, "use_qk_norm") ?? false : (bool?)null,
                LogitScale = arch == ModelArchitecture.Cohere ? Dbl(o, "logit_scale") ?? 0.0625 : (double?)null,
            };
            spec.NumKeyValueHeads = Int(o, "num_key_value_heads") ?? spec.NumAttentionHeads;
            spec.AttentionBias = arch switch
            {
                ModelArchitecture.Qwen2 => true,
                ModelArchitecture.InternLM2 => Bool(o, "bias") ?? false,
                _ => Bool(o, "attention_bias") ?? false,
            };

            // transformers 5: rope_parameters holds theta and the scaling; transformers 4: rope_theta + rope_scaling.
            var rope = o["rope_parameters"] as JsonObject;
            spec.RopeTheta = (rope != null ? Dbl(rope, "rope_theta") : null) ?? Dbl(o, "rope_theta") ?? 10000.0;
            var scaling = rope ?? o["rope_scaling"] as JsonObject;
            if (scaling != null)
            {
                var type = Str(scaling, "rope_type") ?? Str(scaling, "type") ?? "default";
                if (!ConfigValues.TryParseEnum(typeof(RopeType), type, out var rt))
                    throw new InvalidDataException($"{source}: rope type '{type}' is not supported; supported: {string.Join(", ", ConfigValues.EnumNames(typeof(RopeType)))}.");
                if ((RopeType)rt! != RopeType.Default)
                {
                    spec.RopeScaling = new RopeScaling
                    {
                        RopeType = (RopeType)rt,
                        Factor = Dbl(scaling, "factor"),
                        OriginalMaxPositionEmbeddings = Int(scaling, "original_max_position_embeddings"),
                        LowFreqFactor = Dbl(scaling, "low_freq_factor"),
                        HighFreqFactor = Dbl(scaling, "high_freq_factor"),
                        BetaFast = Dbl(scaling, "beta_fast"),
                        BetaSlow = Dbl(scaling, "beta_slow"),
                        AttentionFactor = Dbl(scaling, "attention_factor"),
                    };
                }
            }
            return spec;
        }

        private static bool DefaultTie(ModelArchitecture arch) => arch == ModelArchitecture.Cohere;

        /// <summary>config.json text that transformers loads (transformers-4 style keys, which 5 also reads).</summary>
        public static string Write(ModelSpec spec, int? bosTokenId = null, int? eosTokenId = null, int? padTokenId = null, string torchDtype = "float32")
        {
            var arch = spec.Architecture ?? ModelArchitecture.Llama;
            var o = new JsonObject
            {
                ["architectures"] = new JsonArray(ArchitectureClass(arch)),
                ["model_type"] = ModelTypeName(arch),
                ["hidden_size"] = spec.HiddenSize,
                ["intermediate_size"] = spec.IntermediateSize,
                ["num_hidden_layers"] = spec.NumHiddenLayers,
                ["num_attention_heads"] = spec.NumAttentionHeads,
                ["num_key_value_heads"] = spec.NumKeyValueHeads ?? spec.NumAttentionHeads,
                ["head_dim"] = spec.HeadDim,
                ["vocab_size"] = spec.VocabSize,
                ["max_position_embeddings"] = spec.MaxPositionEmbeddings,
                ["rope_theta"] = spec.RopeTheta ?? 10000.0,
                ["tie_word_embeddings"] = spec.TieWordEmbeddings ?? DefaultTie(arch),
                ["hidden_act"] = "silu",
                ["bos_token_id"] = bosTokenId,
                ["eos_token_id"] = eosTokenId,
                ["pad_token_id"] = padTokenId,
                ["torch_dtype"] = torchDtype,
                ["use_cache"] = true,
            };
            o[arch == ModelArchitecture.Cohere ? "layer_norm_eps" : "rms_norm_eps"] = spec.NormEps ?? 1e-6;
            switch (arch)
            {
                case ModelArchitecture.InternLM2:
                    o["bias"] = spec.AttentionBias ?? false;
                    o["auto_map"] = new JsonObject
                    {
                        ["AutoConfig"] = "configuration_internlm2.InternLM2Config",
                        ["AutoModelForCausalLM"] = "modeling_internlm2.InternLM2ForCausalLM",
                    };
                    break;
                case ModelArchitecture.Qwen2:
                    break;
                case ModelArchitecture.Cohere:
                    o["use_qk_norm"] = spec.UseQkNorm ?? false;
                    o["logit_scale"] = spec.LogitScale ?? 0.0625;
                    o["attention_bias"] = spec.AttentionBias ?? false;
                    break;
                default:
                    o["attention_bias"] = spec.AttentionBias ?? false;
                    o["mlp_bias"] = false;
                    break;
            }
            var s = spec.RopeScaling;
            o["rope_scaling"] = s == null || s.RopeType == RopeType.Default ? null : new JsonObject
            {
                ["rope_type"] = ConfigValues.FormatEnum(s.RopeType),
                ["factor"] = s.Factor,
                ["original_max_position_embeddings"] = s.OriginalMaxPositionEmbeddings,
                ["low_freq_factor"] = s.LowFreqFactor,
                ["high_freq_factor"] = s.HighFreqFactor,
                ["beta_fast"] = s.BetaFast,
                ["beta_slow"] = s.BetaSlow,
                ["attention_factor"] = s.AttentionFactor,
            };
            // InternLM2's remote code reads rope_scaling["type"], the key older transformers used, not rope_type.
            if (arch == ModelArchitecture.InternLM2 && o["rope_scaling"] is JsonObject internLM2Scaling)
                internLM2Scaling["type"] = ConfigValues.FormatEnum(s!.RopeType);
            return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        }

        public static string ModelTypeName(ModelArchitecture arch) => arch.ToString().ToLowerInvariant();

        public static string ArchitectureClass(ModelArchitecture arch) => arch switch
        {
            ModelArchitecture.Mistral => "MistralForCausalLM",
            ModelArchitecture.Qwen2 => "Qwen2ForCausalLM",
            ModelArchitecture.InternLM2 => "InternLM2ForCausalLM",
            ModelArchitecture.Cohere => "CohereForCausalLM",
            _ => "LlamaForCausalLM",
        };

        private static string? Str(JsonObject o, string key) =>
            o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

        private static int? Int(JsonObject o, string key) =>
            o[key] is JsonValue v ? (v.TryGetValue<int>(out var i) ? i : v.TryGetValue<double>(out var d) ? (int)d : (int?)null) : null;

        private static double? Dbl(JsonObject o, string key) =>
            o[key] is JsonValue v && v.TryGetValue<double>(out var d) ? d : (double?)null;

        private static bool? Bool(JsonObject o, string key) =>
            o[key] is JsonValue v && v.TryGetValue<bool>(out var b) ? b : (bool?)null;
    }
}
