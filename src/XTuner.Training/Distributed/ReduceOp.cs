namespace XTuner.Training.Distributed
{
    /// <summary>How <see cref="IProcessGroup.AllReduce"/> and <see cref="IProcessGroup.ReduceScatter"/> combine the members' values.</summary>
    public enum ReduceOp
    {
        Sum,

        /// <summary>The sum divided by the group size; integer types divide with truncation, as NCCL does.</summary>
        Avg,

        Max,
        Min,
    }
}
