using Xunit.Abstractions;

namespace XTuner.Training.Tests.Models
{
    /// <summary>Qwen2: q/k/v biases, one KV head, tied embeddings, rope_theta 1e6.</summary>
    public sealed class TinyQwen2ParityTests : HfParityTests
    {
        public TinyQwen2ParityTests(ITestOutputHelper output) : base(output)
        {
        }

        protected override string ReferenceFixture => "tiny-qwen2";
    }
}
