using System;
using System.Management.Automation;
using System.Threading;
using XTuner.Core;
using XTuner.Core.Launch;
using XTuner.Core.Runs;

namespace XTuner.PowerShell
{
    /// <summary>
    /// What Start-XTunerTraining -AsJob returns: the run's launcher works on a thread of this session, rank 0's events
    /// become the job's progress, and Receive-Job yields the XTunerRun (with the rank failure as the job's error).
    /// Stop-Job and Remove-Job -Force stop every rank.
    /// </summary>
    public sealed class XTunerTrainingJob : Job
    {
        private readonly LocalLauncher _launcher;
        private readonly TrainingProgress _progress;
        private Thread? _watcher;
        private volatile bool _stopping;

        internal XTunerTrainingJob(string command, LaunchPlan plan)
            : base(command, plan.Config.Name)
        {
            PSJobTypeName = nameof(XTunerTrainingJob);
            WorkDir = plan.WorkDir;
            _launcher = new LocalLauncher(plan);
            _progress = new TrainingProgress(plan);
        }

        /// <summary>The run's work dir (Get-XTunerRun and Stop-XTunerTraining take the job by this property).</summary>
        public string WorkDir { get; }

        /// <summary>The run as the launcher knows it now.</summary>
        public XTunerRun Run => _launcher.Run;

        public override string StatusMessage => _progress.Status;

        public override bool HasMoreData =>
            Output.Count > 0 || Error.Count > 0 || Progress.Count > 0 || Verbose.Count > 0 || Warning.Count > 0 || Debug.Count > 0;

        public override string Location => Environment.MachineName;

        /// <summary>Starts the ranks (a worker that cannot start throws here, before the job is returned).</summary>
        internal void Start()
        {
            _launcher.Start();
            SetJobState(JobState.Running);
            _watcher = new Thread(Watch) { IsBackground = true, Name = "xtuner-job-" + Id };
            _watcher.Start();
        }

        private void Watch()
        {
            foreach (var message in _launcher.Messages.GetConsumingEnumerable())
                if (message.Event != null && _progress.Update(message.Event) is ProgressRecord record) Progress.Add(record);
            Progress.Add(_progress.Completed());
            XTunerException? failure = null;
            try
            {
                _launcher.WaitForExit(CancellationToken.None);
            }
            catch (XTunerException e)
            {
                failure = e;
            }
            var run = XTunerRun.Load(WorkDir) ?? _launcher.Run;
            Output.Add(PSObject.AsPSObject(run));
            if (failure != null) Error.Add(XTunerCmdlet.RecordOf(failure, WorkDir));
            // Stop-XTunerTraining from elsewhere stops the run without Stop-Job: the run says so.
            SetJobState(_stopping || run.State == RunState.Stopped ? JobState.Stopped : failure != null ? JobState.Failed : JobState.Completed);
        }

        /// <summary>Stops every rank and waits for them (SIGTERM, then SIGKILL after a grace period).</summary>
        public override void StopJob()
        {
            if (IsFinished(JobStateInfo.State) || _watcher == null) return;
            _stopping = true;
            SetJobState(JobState.Stopping);
            _launcher.Stop();
            _watcher.Join();
        }

        private static bool IsFinished(JobState state) =>
            state == JobState.Completed || state == JobState.Failed || state == JobState.Stopped;

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                StopJob();
                _launcher.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
