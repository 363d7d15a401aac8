using System;
using System.Text.Json.Nodes;
using XTuner.Core.Configuration;

namespace XTuner.Core.Models.Cohere
{
    /// <summary>
    /// Cohere (Command R, R+): a parallel block (one LayerNorm feeds attention and MLP), optional per-head q/k norms,
    /// interleaved RoPE, tied embeddings and scaled logits.
    /// </summary>
    public sealed class CohereFamily : ModelFamily
    {
        /// <summary>CohereConfig's logit_scale default.</summary>
        public const double DefaultLogitScale = 0.0625;

        public override ModelArchitecture Architecture => ModelArchitecture.Cohere;

        public override string ArchitectureClass => "CohereForCausalLM";

        public override double DefaultNormEps => 1e-5;

        public override string NormEpsKey => "layer_norm_eps";

        public override bool TiesEmbeddingsByDefault => true;

        public override int NormsPerLayer => 1;

        public override bool UsesQkNorm(ModelSpec spec) => spec.UseQkNorm == true;

        public override double LogitScale(ModelSpec spec) => spec.LogitScale ?? DefaultLogitScale;

        public override RotaryLayout RotaryLayout => RotaryLayout.Interleaved;

        public override string DefaultPromptTemplate(Func<string, bool> hasToken) => "cohere_chat";

        public override void ReadConfig(JsonObject config, ModelSpec spec)
        {
            base.ReadConfig(config, spec);
            spec.UseQkNorm = HfJson.Bool(config, "use_qk_norm") ?? false;
            spec.LogitScale = HfJson.Dbl(config, "logit_scale") ?? DefaultLogitScale;
        }

        public override void WriteConfig(ModelSpec spec, JsonObject config)
        {
            config["use_qk_norm"] = spec.UseQkNorm ?? false;
            config["logit_scale"] = LogitScale(spec);
            config["attention_bias"] = spec.AttentionBias ?? false;
        }
    }
}
