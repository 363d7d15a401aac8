using System;
using System.Collections.Generic;
using XTuner.Core.Configuration;
using XTuner.Core.Models;
using XTuner.Training.Models.Attention;

namespace XTuner.Training.Models
{
    /// <summary>A <see cref="ModelSpec"/> with every structural field resolved to what transformers would build.</summary>
    internal sealed class DecoderShape
    {
        private DecoderShape(ModelSpec spec, int hidden, int intermediate, int layers, int heads, int vocab)
        {
            Family = spec.Family;
            Attention = new AttentionShape(hidden, heads, spec.NumKeyValueHeads ?? heads, spec.EffectiveHeadDim ?? hidden / heads);
            IntermediateSize = intermediate;
            Layers = layers;
            VocabSize = vocab;
            NormEps = spec.NormEps ?? Family.DefaultNormEps;
            QkvBias = spec.HasQkvBias;
            OutputBias = spec.HasOutputProjectionBias;
            TiedEmbeddings = spec.TiesWordEmbeddings;
            QkNorm = Family.UsesQkNorm(spec);
            LogitScale = Family.LogitScale(spec);
        }

        /// <summary>Config semantics and tensor names of the model's family.</summary>
        public ModelFamily Family { get; }

        public ModelArchitecture Architecture => Family.Architecture;

        public AttentionShape Attention { get; }

        public long HiddenSize => Attention.HiddenSize;

        public long IntermediateSize { get; }

        public int Layers { get; }

        public long VocabSize { get; }

        public double NormEps { get; }

        public bool QkvBias { get; }

        public bool OutputBias { get; }

        public bool TiedEmbeddings { get; }

        public bool QkNorm { get; }

        public double LogitScale { get; }

        public RotaryLayout RotaryLayout => Family.RotaryLayout;

        public static DecoderShape From(ModelSpec spec)
        {
            var missing = new List<string>();
            if (spec.Architecture is null) missing.Add("architecture");
            if (spec.HiddenSize is null) missing.Add("hidden_size");
            if (spec.IntermediateSize is null) missing.Add("intermediate_size");
            if (spec.NumHiddenLayers is null) missing.Add("num_hidden_layers");
            if (spec.NumAttentionHeads is null) missing.Add("num_attention_heads");
            if (spec.VocabSize is null) missing.Add("vocab_size");
            if (missing.Count > 0)
                throw new ArgumentException($"The model spec lacks {string.Join(", ", missing)}; set them or read them from the checkpoint's config.json.");
            var shape = new DecoderShape(spec, spec.HiddenSize!.Value, spec.IntermediateSize!.Value,
                spec.NumHiddenLayers!.Value, spec.NumAttentionHeads!.Value, spec.VocabSize!.Value);
            var a = shape.Attention;
            if (a.Heads <= 0 || a.KeyValueHeads <= 0 || a.Heads % a.KeyValueHeads != 0)
                throw new ArgumentException($"num_attention_heads ({a.Heads}) must be a positive multiple of num_key_value_heads ({a.KeyValueHeads}).");
            return shape;
        }
    }
}
