using System;
using System.Linq;

namespace XTuner.Core.Slurm
{
    /// <summary>A job's state as SLURM reports it (<c>scontrol show job</c>'s JobState, squeue's %T).</summary>
    public enum SlurmJobState
    {
        /// <summary>A state this version does not know; see <see cref="XTunerJob.StateText"/>.</summary>
        Unknown,
        Pending,
        Configuring,
        Running,
        Suspended,
        /// <summary>The job ended and SLURM is still cleaning up its processes.</summary>
        Completing,
        Completed,
        Cancelled,
        Failed,
        Timeout,
        NodeFail,
        Preempted,
        BootFail,
        Deadline,
        OutOfMemory,
        /// <summary>Requeued; pending again until it restarts.</summary>
        Requeued,
        RequeueHold,
        SpecialExit,
        Stopped,
        Resizing,
    }

    /// <summary>Reading SLURM's state names and telling final states from the rest.</summary>
    public static class SlurmJobStates
    {
        /// <summary>
        /// <c>PENDING</c>, <c>NODE_FAIL</c>, <c>CANCELLED+</c>, <c>CANCELLED by 0</c> (squeue and scontrol spellings) to a
        /// state; anything else is <see cref="SlurmJobState.Unknown"/>.
        /// </summary>
        public static SlurmJobState Parse(string? text)
        {
            if (string.IsNullOrWhiteSpace(text)) return SlurmJobState.Unknown;
            var word = text!.Trim();
            int end = word.IndexOfAny(new[] { ' ', '+' });
            if (end > 0) word = word.Substring(0, end);
            var name = word.Replace("_", "");
            // Enum.TryParse also takes numbers and comma lists; SLURM's names are letters only.
            return name.All(char.IsLetter) && Enum.TryParse<SlurmJobState>(name, ignoreCase: true, out var state) ? state : SlurmJobState.Unknown;
        }

        /// <summary>
        /// Whether the job is over for good: no process of it runs and it will not start again by itself (COMPLETING
        /// is not final: processes may still be ending; a requeued job shows REQUEUED, then PENDING, and starts again).
        /// </summary>
        public static bool IsFinal(this SlurmJobState state)
        {
            switch (state)
            {
                case SlurmJobState.Completed:
                case SlurmJobState.Cancelled:
                case SlurmJobState.Failed:
                case SlurmJobState.Timeout:
                case SlurmJobState.NodeFail:
                case SlurmJobState.Preempted:
                case SlurmJobState.BootFail:
                case SlurmJobState.Deadline:
                case SlurmJobState.OutOfMemory:
                case SlurmJobState.SpecialExit:
                    return true;
                default:
                    return false;
            }
        }

        /// <summary>A final state that is neither success nor a cancellation: the job broke (or ran out of time).</summary>
        public static bool IsFailure(this SlurmJobState state) =>
            state.IsFinal() && state != SlurmJobState.Completed && state != SlurmJobState.Cancelled;
    }
}
