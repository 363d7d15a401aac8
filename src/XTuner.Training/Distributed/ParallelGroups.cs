using XTuner.Core.Launch;

namespace XTuner.Training.Distributed
{
    /// <summary>This rank's groups in a <see cref="ParallelLayout"/>: the SP group it splits sequences with and the DP group it averages gradients over.</summary>
    public sealed class ParallelGroups
    {
        internal ParallelGroups(ParallelLayout layout, IProcessGroup sequenceParallel, IProcessGroup dataParallel)
        {
            Layout = layout;
            SequenceParallel = sequenceParallel;
            DataParallel = dataParallel;
        }

        public ParallelLayout Layout { get; }

        public IProcessGroup SequenceParallel { get; }

        public IProcessGroup DataParallel { get; }
    }
}
