using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using XTuner.Core.Runs;

namespace XTuner.Core.Launch
{
    /// <summary>What the launcher reports while ranks run (read on the caller's thread).</summary>
    public sealed class LauncherMessage
    {
        public LauncherMessage(int rank, RunEvent? runEvent, string? line)
        {
            Rank = rank;
            Event = runEvent;
            Line = line;
        }

        public int Rank { get; }

        /// <summary>A structured event from rank 0.</summary>
        public RunEvent? Event { get; }

        /// <summary>A plain output line of rank 0 (only when echo is on).</summary>
        public string? Line { get; }
    }

    /// <summary>
    /// Starts one xtuner process per rank on this machine and watches them. If a rank fails, the others are stopped
    /// within seconds and the failure names the rank, its exit code and its last log lines. <see cref="Stop"/> (Ctrl+C,
    /// Stop-Job) and <see cref="Dispose"/> leave no rank process behind; <see cref="RequestCheckpointAndStop"/> lets the
    /// ranks end after a checkpoint instead. Another process asks for either through the work dir
    /// (<see cref="RunControl"/>, Stop-XTunerTraining).
    /// </summary>
    public sealed class LocalLauncher : IDisposable
    {
        private static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);
        private static readonly TimeSpan CauseWait = TimeSpan.FromSeconds(2);

        /// <summary>Work dirs of the runs this process is launching (run.json cannot tell: they share its launcher pid).</summary>
        private static readonly ConcurrentDictionary<string, LocalLauncher> Active = new ConcurrentDictionary<string, LocalLauncher>(StringComparer.Ordinal);
        private readonly LaunchPlan _plan;
        private readonly List<RankProcess> _ranks = new List<RankProcess>();
        private readonly object _lock = new object();
        private readonly bool _echo;
        private Thread? _monitor;
        private WorkDirLock? _workDirLock;
        private volatile bool _stopRequested;
        private volatile bool _training;
        private volatile bool _checkpointStopRequested;
        private volatile bool _stoppedAfterCheckpoint;
        private DateTime? _consequenceSeen;

        public LocalLauncher(LaunchPlan plan, bool echoRankZero = false)
        {
            _plan = plan;
            _echo = echoRankZero;
            Run = new XTunerRun
            {
                WorkDir = plan.WorkDir,
                Name = plan.Config.Name,
                State = RunState.Starting,
                Launcher = "local",
                LauncherProcessId = System.Diagnostics.Process.GetCurrentProcess().Id,
                WorldSize = plan.Ranks.Count,
                SequenceParallelSize = plan.Config.SequenceParallelSize,
                Device = Configuration.ConfigValues.FormatEnum(plan.Config.Device),
            };
        }

        /// <summary>Events and (optionally) rank 0's output, in order.</summary>
        public BlockingCollection<LauncherMessage> Messages { get; } = new BlockingCollection<LauncherMessage>();

        public XTunerRun Run { get; }

        /// <summary>Set when every rank has ended (or the run failed or was stopped).</summary>
        public ManualResetEventSlim Finished { get; } = new ManualResetEventSlim();

        /// <summary>Why the run failed, once it has.</summary>
        public XTunerException? Failure { get; private set; }

        /// <summary>Whether a launcher of this process is running ranks in <paramref name="workDir"/>.</summary>
        public static bool IsRunningIn(string workDir) => Active.ContainsKey(Path.GetFullPath(workDir));

        /// <summary>Takes the work dir's lock (unless <see cref="LaunchPlanner.PrepareWorkDir(LaunchPlan, bool)"/> did), starts every rank and records the run.</summary>
        /// <exception cref="XTunerException">The work dir is taken or cannot be written, or the worker does not start; no rank is left running.</exception>
        public void Start()
        {
            var key = Path.GetFullPath(_plan.WorkDir);
            if (!Active.TryAdd(key, this))
                throw new XTunerException(ErrorIds.InvalidConfig, $"A run of this session is already going in {_plan.WorkDir}; stop it, or choose another work dir.");
            try
            {
                _workDirLock = WorkDirLock.Acquire(_plan.WorkDir);
                StartRanks();
                Run.State = RunState.Running;
                SaveRecord();
            }
            catch (Exception e)
            {
                KillAll();
                Active.TryRemove(key, out _);
                _workDirLock?.Dispose();
                if (e is IOException || e is UnauthorizedAccessException) throw WriteFailure(_plan.WorkDir, e);
                throw;
            }
            _monitor = new Thread(Monitor) { IsBackground = true, Name = "xtuner-launcher" };
            _monitor.Start();
        }

        /// <summary>run.json, or the write failure it met (a full disk: the run must not go on unrecorded).</summary>
        private void SaveRecord()
        {
            try
            {
                Run.Save();
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw WriteFailure(new WorkDirLayout(_plan.WorkDir).RunRecord, e);
            }
        }

        private static XTunerException WriteFailure(string path, Exception e) =>
            new XTunerException(ErrorIds.WorkDirWriteFailed, $"Cannot write {path} ({e.Message}): is the disk full or the work dir read-only? The ranks were stopped.", e);

        private void StartRanks()
        {
            Directory.CreateDirectory(new WorkDirLayout(_plan.WorkDir).Logs);
            // A request left by an earlier run's stop must not end this one.
            File.Delete(StopFile);
            Run.StartTime = DateTime.UtcNow;
            // The run's secret: made here, not in the plan, so that -WhatIf and the information stream never show it. A run
            // over several nodes takes the one its launchers were given (the planner requires it).
            var token = RunToken.FromEnvironment() ?? RunToken.New();
            foreach (var spec in _plan.Ranks)
            {
                var env = new Dictionary<string, string>(_plan.SharedEnvironment) { [RunToken.Variable] = token };
                foreach (var pair in spec.Environment) env[pair.Key] = pair.Value;
                var log = new WorkDirLayout(_plan.WorkDir).RankLog(spec.Rank);
                if (File.Exists(log)) File.Delete(log);
                // The node's first rank speaks for it (rank 0 on node 0): its events and output reach the caller.
                var first = spec == _plan.Ranks[0];
                var rank = new RankProcess(spec.Rank, _plan.Worker, _plan.Arguments, env, log, _plan.WorkDir, first ? OnRankZeroLine : (Action<RankProcess, string>?)null);
                _ranks.Add(rank);
                Run.Ranks.Add(new RankRecord { Rank = spec.Rank, Log = log });
            }
            try
            {
                for (int i = 0; i < _ranks.Count; i++)
                {
                    _ranks[i].Start();
                    Run.Ranks[i].ProcessId = _ranks[i].ProcessId;
                }
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception || e is InvalidOperationException)
            {
                KillAll();
                throw new XTunerException(ErrorIds.WorkerNotFound, $"Could not start the worker '{_plan.Worker}': {e.Message}", e);
            }
        }

        private void OnRankZeroLine(RankProcess rank, string line)
        {
            var ev = RunEvent.TryParse(line);
            if (ev?.Kind == "start") _training = true;
            if (ev?.Kind == RunEvent.StoppedKind) _stoppedAfterCheckpoint = true;
            if (ev != null) Messages.Add(new LauncherMessage(rank.Rank, ev, null));
            else if (_echo) Messages.Add(new LauncherMessage(rank.Rank, null, line));
        }

        private string StopFile => Path.Combine(_plan.WorkDir, RunControl.StopFileName);

        /// <summary>
        /// The launcher's thread: watches the ranks and the stop request until the run ends. Whatever it meets ends the
        /// run as Failed with the reason, never the launcher process.
        /// </summary>
        private void Monitor()
        {
            try
            {
                Watch();
            }
            catch (Exception e)
            {
                Failure ??= e as XTunerException ?? new XTunerException(ErrorIds.RankFailed, $"The launcher stopped watching its ranks: {e.GetType().Name}: {e.Message}", e);
                try
                {
                    StopRanks();
                }
                finally
                {
                    Finish(RunState.Failed);
                }
            }
        }

        private void Watch()
        {
            while (true)
            {
                var request = RunControl.ReadRequest(_plan.WorkDir);
                if (!_stopRequested && (request == StopRequest.Stop ||
                                        (request == StopRequest.CheckpointAndStop && !_checkpointStopRequested && !RequestCheckpointAndStop())))
                {
                    _stopRequested = true;
                    StopRanks();
                }
                // A rank's output that can no longer be written is lost: stop while the run can still be resumed.
                if (_ranks.FirstOrDefault(r => r.LogFailure != null) is RankProcess unlogged && !_stopRequested)
                {
                    Failure = WriteFailure(unlogged.LogPath, unlogged.LogFailure!);
                    StopRanks();
                    Finish(RunState.Failed);
                    return;
                }
                // Read before the failures: a rank that ends after this read is seen on the next round, never missed.
                bool allEnded = _ranks.All(r => r.HasExited);
                var failed = FailedRank(allEnded);
                // RunControl writes its request before it signals a rank: a rank ended by it is never a failure.
                if (failed != null && !_stopRequested && RunControl.ReadRequest(_plan.WorkDir) != StopRequest.Stop)
                {
                    Failure = RankFailure(failed);
                    StopRanks();
                    Finish(RunState.Failed);
                    return;
                }
                if (allEnded)
                {
                    // Ranks asked to stop after a checkpoint still complete a run whose last step came first.
                    Finish(_stopRequested || _stoppedAfterCheckpoint ? RunState.Stopped : RunState.Completed);
                    return;
                }
                Thread.Sleep(100);
            }
        }

        /// <summary>
        /// The rank whose failure to report, or null while there is none yet. A rank that lost a peer fails too (its
        /// store or a collective gives up); the peer's own error is the cause, so a failure of that kind waits up to
        /// <see cref="CauseWait"/> for another rank's to be read before it is reported.
        /// </summary>
        /// <param name="allEnded">Every rank had ended when the caller looked, before this reads their failures.</param>
        private RankProcess? FailedRank(bool allEnded)
        {
            var failed = _ranks.Where(r => r.HasExited && r.ExitCode != 0).ToList();
            if (failed.Count == 0) return null;
            var cause = failed.FirstOrDefault(r => !LostAPeer(r));
            if (cause != null) return cause;
            _consequenceSeen ??= DateTime.UtcNow;
            return DateTime.UtcNow - _consequenceSeen < CauseWait && !allEnded ? null : failed[0];
        }

        private static bool LostAPeer(RankProcess rank) =>
            rank.Tail().Any(l => new[] { ErrorIds.RendezvousTimeout, ErrorIds.RendezvousFailed, ErrorIds.CollectiveFailed, ErrorIds.PeerLost }.Any(id => l.Contains("[" + id + "]")));

        private XTunerException RankFailure(RankProcess rank)
        {
            var tail = rank.Tail();
            var lines = string.Join(Environment.NewLine, tail.Skip(Math.Max(0, tail.Length - 15)).Select(l => "    " + l));
            // A rank reports a rendezvous timeout as "error [XTunerRendezvousTimeout]"; that says more than "it failed".
            var id = tail.Any(l => l.Contains("[" + ErrorIds.RendezvousTimeout + "]")) ? ErrorIds.RendezvousTimeout : ErrorIds.RankFailed;
            return new XTunerException(id,
                $"Rank {rank.Rank} exited with code {rank.ExitCode}{Describe(rank.ExitCode)}; the other ranks were stopped. Last lines of {rank.LogPath}:{Environment.NewLine}{lines}");
        }

        private static string Describe(int? exitCode) =>
            exitCode is int c && c > 128 && c < 160 ? $" (signal {c - 128})" : exitCode == 137 ? " (killed)" : "";

        private void Finish(RunState state)
        {
            lock (_lock)
            {
                if (Finished.IsSet) return;
                // A launcher that never started has no run to record, and the work dir may be another launcher's.
                if (_monitor != null)
                {
                    for (int i = 0; i < _ranks.Count; i++) Run.Ranks[i].ExitCode = _ranks[i].ExitCode;
                    Run.State = state;
                    Run.EndTime = DateTime.UtcNow;
                    Run.Error = Failure?.Message;
                    Run.ErrorId = Failure?.ErrorId;
                    try
                    {
                        SaveRecord();
                    }
                    catch (XTunerException e)
                    {
                        // The ranks are gone; the caller hears that the record of how they ended could not be written.
                        Failure ??= e;
                    }
                    ((ICollection<KeyValuePair<string, LocalLauncher>>)Active).Remove(new KeyValuePair<string, LocalLauncher>(Path.GetFullPath(_plan.WorkDir), this));
                    _workDirLock?.Dispose();
                }
                Messages.CompleteAdding();
                Finished.Set();
            }
        }

        /// <summary>
        /// Asks every rank to save a checkpoint at the end of the step it is taking and to end there (the run is then
        /// recorded as Stopped, and resumes from that checkpoint). False, asking nothing, before the first step has
        /// begun or once the run has ended: there is nothing to save, <see cref="Stop"/> is the way.
        /// </summary>
        public bool RequestCheckpointAndStop()
        {
            if (!_training || Finished.IsSet) return false;
            _checkpointStopRequested = true;
            foreach (var r in _ranks) r.Signal(ProcessSignals.CheckpointAndStopSignal);
            return true;
        }

        /// <summary>Stops every rank (SIGTERM, then SIGKILL after a grace period) and waits for them.</summary>
        public void Stop()
        {
            _stopRequested = true;
            StopRanks();
            if (_monitor == null) Finish(RunState.Stopped);
            Finished.Wait(TimeSpan.FromSeconds(30));
        }

        private void StopRanks()
        {
            foreach (var r in _ranks) r.Terminate();
            var deadline = DateTime.UtcNow + Grace;
            foreach (var r in _ranks)
            {
                var left = deadline - DateTime.UtcNow;
                if (left < TimeSpan.Zero || !r.WaitForExit(left)) r.Kill();
            }
            foreach (var r in _ranks) r.WaitForExit(TimeSpan.FromSeconds(10));
        }

        private void KillAll()
        {
            foreach (var r in _ranks) r.Kill();
        }

        /// <summary>Blocks until the run ends; throws the rank failure, if any. Cancelling stops the ranks.</summary>
        public XTunerRun WaitForExit(CancellationToken cancel)
        {
            using (cancel.Register(Stop))
                Finished.Wait();
            if (Failure != null) throw Failure;
            return Run;
        }

        public void Dispose()
        {
            if (!Finished.IsSet) Stop();
            // A lock the plan took for a launcher that never started is this process's to give back.
            _workDirLock?.Dispose();
            if (!IsRunningIn(_plan.WorkDir) && WorkDirLock.IsHeldHere(_plan.WorkDir)) WorkDirLock.Acquire(_plan.WorkDir).Dispose();
            foreach (var r in _ranks) r.Dispose();
            Finished.Dispose();
            Messages.Dispose();
        }
    }
}
