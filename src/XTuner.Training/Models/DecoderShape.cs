using System;
using System.Collections.Generic;
using XTuner.Core.Configuration;

namespace XTuner.Training.Models
{
    /// <summary>A <see cref="ModelSpec"/> with every structural field resolved to what transformers would build.</summary>
    internal sealed class DecoderShape
    {
        private DecoderShape(ModelSpec spec, ModelArchitecture architecture, int hidden, int intermediate, int layers, int heads, int vocab)
        {
            Architecture = architecture;
            Attention = new AttentionShape(hidden, heads, spec.NumKeyValueHeads ?? heads, spec.EffectiveHeadDim ?? hidden / heads);
            IntermediateSize = intermediate;
            Layers = layers;
            VocabSize = vocab;
            // transformers' defaults: CohereConfig layer_norm_eps 1e-5, the others' rms_norm_eps 1e-6.
            NormEps = spec.NormEps ?? (architecture == ModelArchitecture.Cohere ? 1e-5 : 1e-6);
            QkvBias = spec.HasQkvBias;
            OutputBias = spec.HasOutputProjectionBias;
            TiedEmbeddings = spec.TiesWordEmbeddings;
            QkNorm = architecture == ModelArchitecture.Cohere && spec.UseQkNorm == true;
            LogitScale = architecture == ModelArchitecture.Cohere ? spec.LogitScale ?? 0.0625 : 1.0;
        }

        public ModelArchitecture Architecture { get; }

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

        public RotaryLayout RotaryLayout =>
            Architecture == ModelArchitecture.Cohere ? RotaryLayout.Interleaved : RotaryLayout.HalfSplit;

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
            var shape = new DecoderShape(spec, spec.Architecture!.Value, spec.HiddenSize!.Value, spec.IntermediateSize!.Value,
                spec.NumHiddenLayers!.Value, spec.NumAttentionHeads!.Value, spec.VocabSize!.Value);
            var a = shape.Attention;
            if (a.Heads <= 0 || a.KeyValueHeads <= 0 || a.Heads % a.KeyValueHeads != 0)
                throw new ArgumentException($"num_attention_heads ({a.Heads}) must be a positive multiple of num_key_value_heads ({a.KeyValueHeads}).");
            return shape;
        }
    }
}
