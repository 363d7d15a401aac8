using Xunit.Abstractions;

namespace XTuner.Training.Tests.Models
{
    /// <summary>Mistral with sliding_window 16 over 48 tokens: the window decides every position from 16 on.</summary>
    public sealed class TinyMistralWindowParityTests : HfParityTests
    {
        public TinyMistralWindowParityTests(ITestOutputHelper output) : base(output)
        {
        }

        protected override string ReferenceFixture => "tiny-mistral-window";
    }
}
