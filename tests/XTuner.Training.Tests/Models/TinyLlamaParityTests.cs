using Xunit.Abstractions;

namespace XTuner.Training.Tests.Models
{
    /// <summary>Llama with GQA, untied lm_head, config in the transformers-5 style.</summary>
    public sealed class TinyLlamaParityTests : HfParityTests
    {
        public TinyLlamaParityTests(ITestOutputHelper output) : base(output)
        {
        }

        protected override string ReferenceFixture => "tiny-llama";
    }
}
