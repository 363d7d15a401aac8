namespace XTuner.Core.Planning
{
    /// <summary>The machines a plan is for: GPU memory per GPU, host memory per node (optional), GPUs per node.</summary>
    public sealed class PlanHardware
    {
        /// <summary>An H200's memory as the planner counts it by default: 141 GiB.</summary>
        public const double DefaultGpuMemoryGiB = 141;

        public PlanHardware(double gpuMemoryBytes, double? hostMemoryBytes, int gpusPerNode)
        {
            GpuMemoryBytes = gpuMemoryBytes;
            HostMemoryBytes = hostMemoryBytes;
            GpusPerNode = gpusPerNode;
        }

        public double GpuMemoryBytes { get; }

        /// <summary>Host memory of one node; null: not checked.</summary>
        public double? HostMemoryBytes { get; }

        public int GpusPerNode { get; }
    }
}
