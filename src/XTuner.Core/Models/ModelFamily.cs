using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;
using XTuner.Core.Configuration;

namespace XTuner.Core.Models
{
    /// <summary>
    /// What one model family means to everything outside the tensors: its config.json names and defaults, the biases
    /// and norms it builds, its tensor names, its rotary layout and its chat template. Every other part of the
    /// product asks the family (<see cref="For"/>) instead of branching on the architecture; the modules themselves
    /// are built by the training engine's layer factory for the same architecture.
    /// </summary>
    public abstract class ModelFamily
    {
        private static readonly IReadOnlyList<ModelFamily> Families = typeof(ModelFamily).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(ModelFamily)) && !t.IsAbstract)
            .Select(t => (ModelFamily)Activator.CreateInstance(t)!)
            .OrderBy(f => f.Architecture)
            .ToList();

        /// <summary>Every supported family, in <see cref="ModelArchitecture"/> order.</summary>
        public static IReadOnlyList<ModelFamily> All => Families;

        /// <summary>The family of an architecture; a spec without one is read as Llama.</summary>
        public static ModelFamily For(ModelArchitecture? architecture) =>
            Families.First(f => f.Architecture == (architecture ?? ModelArchitecture.Llama));

        /// <summary>The family whose config.json says <c>model_type: <paramref name="modelType"/></c>, or null.</summary>
        public static ModelFamily? ForModelType(string modelType) =>
            Families.FirstOrDefault(f => string.Equals(f.ModelType, modelType, StringComparison.OrdinalIgnoreCase));

        public abstract ModelArchitecture Architecture { get; }

        /// <summary>config.json's <c>model_type</c>.</summary>
        public virtual string ModelType => Architecture.ToString().ToLowerInvariant();

        /// <summary>config.json's <c>architectures[0]</c>, the transformers class that loads an export.</summary>
        public abstract string ArchitectureClass { get; }

        /// <summary>The norm epsilon transformers uses when config.json has none.</summary>
        public virtual double DefaultNormEps => 1e-6;

        /// <summary>The config.json key of the norm epsilon.</summary>
        public virtual string NormEpsKey => "rms_norm_eps";

        /// <summary>tie_word_embeddings when config.json does not say.</summary>
        public virtual bool TiesEmbeddingsByDefault => false;

        /// <summary>q/k/v projections carry biases.</summary>
        public virtual bool HasQkvBias(ModelSpec spec) => spec.AttentionBias == true;

        /// <summary>The attention output projection carries a bias.</summary>
        public virtual bool HasOutputProjectionBias(ModelSpec spec) => spec.AttentionBias == true;

        /// <summary>Norm weights per decoder layer (two for a pre-norm block, one for a parallel block).</summary>
        public virtual int NormsPerLayer => 2;

        /// <summary>Per-head norms on q and k.</summary>
        public virtual bool UsesQkNorm(ModelSpec spec) => false;

        /// <summary>What logits are multiplied by.</summary>
        public virtual double LogitScale(ModelSpec spec) => 1.0;

        public virtual RotaryLayout RotaryLayout => RotaryLayout.HalfSplit;

        /// <summary>The embedding module's name under <c>model.</c> (its tensor is NAME.weight).</summary>
        public virtual string EmbeddingName => "embed_tokens";

        /// <summary>The output projection's module name (its tensor is NAME.weight; absent when tied).</summary>
        public virtual string OutputHeadName => "lm_head";

        /// <summary>
        /// The chat template a checkpoint of this family uses when the config names none; <paramref name="hasToken"/>
        /// tells whether the tokenizer knows a special token (Llama 3 and ChatML checkpoints share model_type llama).
        /// </summary>
        public abstract string DefaultPromptTemplate(Func<string, bool> hasToken);

        /// <summary>Reads the family's own config.json keys into <paramref name="spec"/> (the common ones are read already).</summary>
        public virtual void ReadConfig(JsonObject config, ModelSpec spec) =>
            spec.AttentionBias = HfJson.Bool(config, "attention_bias") ?? false;

        /// <summary>Writes the family's own config.json keys (the common ones are written already).</summary>
        public virtual void WriteConfig(ModelSpec spec, JsonObject config)
        {
            config["attention_bias"] = spec.AttentionBias ?? false;
            config["mlp_bias"] = false;
        }

        public override string ToString() => ModelType;
    }
}
