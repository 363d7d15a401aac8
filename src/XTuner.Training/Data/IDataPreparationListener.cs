using XTuner.Core.Datasets;

namespace XTuner.Training.Data
{
    /// <summary>Who hears how a dataset's preparation goes: rank 0's log and events, or <c>xtuner prepare-data</c>'s progress bar.</summary>
    public interface IDataPreparationListener
    {
        /// <summary>About once a second while data files are tokenized or another process is building the cache, and once when done.</summary>
        void Progress(DataProgress progress);

        /// <summary>A line for the log, e.g. which dataset cache a run reads.</summary>
        void Info(string message);

        /// <summary>Something the user should know, e.g. that a damaged cache is being rebuilt.</summary>
        void Warning(string message);
    }
}
