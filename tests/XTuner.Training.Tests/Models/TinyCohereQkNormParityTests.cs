using Xunit.Abstractions;

namespace XTuner.Training.Tests.Models
{
    /// <summary>Cohere: parallel block, LayerNorm, per-head q/k norm, interleaved RoPE, logit_scale, tied embeddings.</summary>
    public sealed class TinyCohereQkNormParityTests : HfParityTests
    {
        public TinyCohereQkNormParityTests(ITestOutputHelper output) : base(output)
        {
        }

        protected override string ReferenceFixture => "tiny-cohere-qknorm";
    }
}
