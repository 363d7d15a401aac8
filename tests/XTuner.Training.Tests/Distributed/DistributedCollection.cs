using Xunit;

namespace XTuner.Training.Tests.Distributed
{
    /// <summary>
    /// Distributed tests start several ranks (processes or threads) that all need the CPU at once; on a 2-core machine
    /// they run one class at a time.
    /// </summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class DistributedCollection
    {
        public const string Name = "Distributed ranks";
    }
}
