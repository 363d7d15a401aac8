using XTuner.Core.Configuration;
using XTuner.Training.Models.Attention;

namespace XTuner.Training.Tests.Models
{
    /// <summary>Small random-init model specs that exercise each architecture's options.</summary>
    internal static class TinySpecs
    {
        public static ModelSpec For(ModelArchitecture architecture, bool bias = false, RopeScaling? ropeScaling = null) => new ModelSpec
        {
            Architecture = architecture,
            HiddenSize = 32,
            IntermediateSize = 48,
            NumHiddenLayers = 2,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 2,
            VocabSize = 64,
            MaxPositionEmbeddings = 64,
            RopeTheta = 10000,
            RopeScaling = ropeScaling,
            AttentionBias = bias,
            UseQkNorm = architecture == ModelArchitecture.Cohere ? true : null,
            LogitScale = architecture == ModelArchitecture.Cohere ? 0.25 : null,
        };
    }
}
