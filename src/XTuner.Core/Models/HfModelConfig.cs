using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using XTuner.Core.Configuration;
using static XTuner.Core.Models.HfJson;

namespace XTuner.Core.Models
{
    /// <summary>
    /// Reads and writes Hugging Face <c>config.json</c> for the supported decoders, in both the transformers-4
    /// style (<c>rope_theta</c>, <c>rope_scaling</c>) and the transformers-5 style (<c>rope_parameters</c>).
    /// </summary>
    public static class HfModelConfig
    {
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
            var family = ModelFamily.ForModelType(modelType)
                ?? throw new InvalidDataException($"{source}: model_type '{modelType}' is not supported; supported: {string.Join(", ", ModelFamily.All.Select(f => f.ModelType))}.");
            var spec = new ModelSpec
            {
                Architecture = family.Architecture,
                HiddenSize = Int(o, "hidden_size"),
                IntermediateSize = Int(o, "intermediate_size"),
                NumHiddenLayers = Int(o, "num_hidden_layers"),
                NumAttentionHeads = Int(o, "num_attention_heads"),
                VocabSize = Int(o, "vocab_size"),
                MaxPositionEmbeddings = Int(o, "max_position_embeddings"),
                HeadDim = Int(o, "head_dim"),
                NormEps = Dbl(o, "rms_norm_eps") ?? Dbl(o, "layer_norm_eps"),
                TieWordEmbeddings = Bool(o, "tie_word_embeddings") ?? family.TiesEmbeddingsByDefault,
            };
            spec.NumKeyValueHeads = Int(o, "num_key_value_heads") ?? spec.NumAttentionHeads;
            family.ReadConfig(o, spec);

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

        /// <summary>config.json text that transformers loads (transformers-4 style keys, which 5 also reads).</summary>
        public static string Write(ModelSpec spec, int? bosTokenId = null, int? eosTokenId = null, int? padTokenId = null, string torchDtype = "float32")
        {
            var family = ModelFamily.For(spec.Architecture);
            var o = new JsonObject
            {
                ["architectures"] = new JsonArray(family.ArchitectureClass),
                ["model_type"] = family.ModelType,
                ["hidden_size"] = spec.HiddenSize,
                ["intermediate_size"] = spec.IntermediateSize,
                ["num_hidden_layers"] = spec.NumHiddenLayers,
                ["num_attention_heads"] = spec.NumAttentionHeads,
                ["num_key_value_heads"] = spec.NumKeyValueHeads ?? spec.NumAttentionHeads,
                ["head_dim"] = spec.HeadDim,
                ["vocab_size"] = spec.VocabSize,
                ["max_position_embeddings"] = spec.MaxPositionEmbeddings,
                ["rope_theta"] = spec.RopeTheta ?? 10000.0,
                ["tie_word_embeddings"] = spec.TiesWordEmbeddings,
                ["hidden_act"] = "silu",
                ["bos_token_id"] = bosTokenId,
                ["eos_token_id"] = eosTokenId,
                ["pad_token_id"] = padTokenId,
                ["torch_dtype"] = torchDtype,
                ["use_cache"] = true,
            };
            o[family.NormEpsKey] = spec.NormEps ?? family.DefaultNormEps;
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
            family.WriteConfig(spec, o);
            return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        }
    }
}
