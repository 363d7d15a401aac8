using Xunit;

namespace XTuner.Training.Tests.Models
{
    /// <summary>
    /// Tests that seed libtorch's global generator and then draw from it (as transformers' initialisation does): run
    /// alone, since any test of another class drawing meanwhile changes what they draw.
    /// </summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class GlobalGeneratorCollection
    {
        public const string Name = "libtorch's global generator";
    }
}
