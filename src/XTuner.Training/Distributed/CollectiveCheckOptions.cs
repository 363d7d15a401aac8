using System.Collections.Generic;
using static TorchSharp.torch;

namespace XTuner.Training.Distributed
{
    /// <summary>What <see cref="CollectiveChecks"/> runs: every combination of dtype, size and operation, on every group.</summary>
    public sealed class CollectiveCheckOptions
    {
        public static IReadOnlyList<string> AllOperations { get; } =
            new[] { "all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast", "barrier" };

        public IReadOnlyList<ScalarType> DTypes { get; set; } =
            new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16, ScalarType.Float64, ScalarType.Int64, ScalarType.Int32 };

        /// <summary>Elements per member: the whole tensor for all_reduce and broadcast, one member's chunk for the others.</summary>
        public IReadOnlyList<long> Sizes { get; set; } = new long[] { 0, 1, 7, 1 << 20 };

        public IReadOnlyList<string> Operations { get; set; } = AllOperations;

        /// <summary>Check the SP and DP groups of this layout; null checks pairs of ranks and the world in reverse order.</summary>
        public int? SequenceParallelSize { get; set; }

        /// <summary>This rank exits (code 3) after its first check, to show that the others fail cleanly instead of hanging.</summary>
        public int? FailRank { get; set; }
    }
}
