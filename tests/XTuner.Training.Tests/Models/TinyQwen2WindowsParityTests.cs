using Xunit.Abstractions;

namespace XTuner.Training.Tests.Models
{
    /// <summary>Qwen2 with use_sliding_window, sliding_window 16, max_window_layers 1: layer 0 in full, layer 1 in the window.</summary>
    public sealed class TinyQwen2WindowsParityTests : HfParityTests
    {
        public TinyQwen2WindowsParityTests(ITestOutputHelper output) : base(output)
        {
        }

        protected override string ReferenceFixture => "tiny-qwen2-windows";
    }
}
