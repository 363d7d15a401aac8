using Xunit.Abstractions;

namespace XTuner.Training.Tests.Models
{
    /// <summary>The same weights with a transformers-4 config (rope_theta, rope_scaling: null).</summary>
    public sealed class TinyLlamaV4ConfigParityTests : HfParityTests
    {
        public TinyLlamaV4ConfigParityTests(ITestOutputHelper output) : base(output)
        {
        }

        protected override string ReferenceFixture => "tiny-llama-v4config";
    }
}
