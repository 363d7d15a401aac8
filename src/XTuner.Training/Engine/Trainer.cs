using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using TorchSharp;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Core.Runs;
using XTuner.Training.Distributed;
using XTuner.Training.IO;
using XTuner.Training.Models;
using XTuner.Training.Runtime;
using XTuner.Training.SequenceParallel;
using static TorchSharp.torch;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// One rank's training run, in levels: <see cref="Train"/> sets up (<see cref="TrainingSetup"/>), then runs
    /// <see cref="TrainStep"/> per optimizer step, which runs <see cref="ForwardBackward"/> per micro-batch; metrics,
    /// the checkpoint policy and observers are components around the loop. The loss is the exact token mean over the
    /// whole global batch: each micro-batch's sequences are shifted, padded and split across the SP group
    /// (<see cref="SequenceChunk"/>), every rank back-propagates (its loss sum / the global target count) and the
    /// optimizer sums gradients over the world, which equals one process training on the same global batch.
    /// </summary>
    public sealed class Trainer : IDisposable
    {
        private readonly XTunerConfig _config;
        private readonly RankEnvironment _env;
        private readonly TrainOptions _options;
        private readonly DistributedRuntime _runtime;
        private readonly ParallelLayout _layout;
        private readonly IProcessGroup _sequenceParallel;
        private readonly bool _cuda;
        private readonly CheckpointPolicy _checkpointPolicy;
        private readonly DeviceMemory _memory;

        private Trainer(XTunerConfig config, RankEnvironment env, TrainOptions options)
        {
            _config = config;
            _env = env;
            _options = options;
            _cuda = config.Device == DeviceKind.Cuda;
            if (_cuda)
            {
                LibTorchLocator.PrepareCuda();
                InitializeDeviceType(DeviceType.CUDA);
            }
            // CPU threads per rank: OMP_NUM_THREADS when the launcher (or SLURM script) set it, else the cores shared
            // among this node's ranks. On CUDA too: initialisation and data preparation run on the CPU.
            set_num_threads(int.TryParse(Environment.GetEnvironmentVariable("OMP_NUM_THREADS"), out var threads) && threads > 0
                ? threads : env.CpuThreadsPerRank(Environment.ProcessorCount));
            _runtime = DistributedRuntime.Initialize(env, _cuda ? DeviceType.CUDA : DeviceType.CPU, options.Timeout, ranksPerGpu: _cuda ? config.RanksPerGpu : 1);
            _layout = new ParallelLayout(env.WorldSize, config.SequenceParallelSize);
            // Gradients are reduced over the whole world; only the SP groups need communicators of their own.
            _sequenceParallel = _layout.SequenceParallelSize > 1 ? _runtime.SequenceParallelGroup(_layout) : _runtime.World;
            _checkpointPolicy = new CheckpointPolicy(config.SaveSteps);
            _memory = new DeviceMemory(_cuda ? _runtime.Device.index : null);
            _phases = StepPhases.Install(_cuda ? _runtime.Device.index : null);
        }

        /// <summary>The step's time by phase, when asked for (<see cref="StepPhases.EnvironmentVariable"/>).</summary>
        private readonly StepPhases? _phases;

        private bool IsRankZero => _env.Rank == 0;

        /// <summary>What the rank is doing, and the step (from 1) it is taking: where an out-of-memory failure happened.</summary>
        private string _phase = "setup (building the model and the optimizer states)";

        private int? _step;

        /// <summary>Trains with a prepared config (absolute paths, validated) as the given rank.</summary>
        public static void Run(XTunerConfig config, RankEnvironment env, TrainOptions options)
        {
            LauncherWatch.Start();
            using var trainer = new Trainer(config, env, options);
            try
            {
                trainer.Train();
            }
            catch (Exception e)
            {
                // Let the other ranks see this one is gone now (they would otherwise wait for it until their timeout).
                trainer._runtime.Abort();
                if (OutOfMemoryReport.Is(e))
                    throw OutOfMemoryReport.Describe(e, trainer._phase, trainer._step, config.MaxLength, config.SequenceParallelSize, trainer._cuda);
                throw;
            }
        }

        private void Train()
        {
            var config = _config;
            var layout = new WorkDirLayout(config.WorkDir ?? throw new XTunerException(ErrorIds.InvalidConfig, "The config has no work_dir."));
            var resumeFrom = ResumeCheckpoint(layout);
            if (IsRankZero && resumeFrom == null) StartFresh(layout);
            using var reporter = IsRankZero ? new RunReporter(layout.Root, _options.Console, _options.Events, config.LoggingInterval) : null;
            reporter?.Info($"xtuner {_env} | {_layout} | {ConfigValues.FormatEnum(config.Device)} {ConfigValues.FormatEnum(config.DType)} | zero {config.ZeroStage}");
            using var setup = TrainingSetup.Create(config, _env.Rank, _env.LocalWorldSize, _runtime, _sequenceParallel, _layout, resumeFrom, reporter,
                // Ranks sharing a GPU share its free memory.
                _memory.FreeBytes() / (_cuda ? config.RanksPerGpu : 1));
            if (IsRankZero && setup.StartStep > 0) MetricsFile.TruncateAfter(layout.Root, setup.StartStep);
            var observers = new List<ITrainingObserver>();
            if (ExactnessDump.FromEnvironment(setup.Optimizer, setup.Model, IsRankZero) is ExactnessDump dump) observers.Add(dump);
            var checkpoints = new TrainingCheckpoints(layout.Root, config.SaveTotalLimit);
            var guard = new NumericGuard();
            var metrics = new StepMetrics(setup.Spec, _runtime.World.Size, _cuda, _memory);

            var clock = Stopwatch.StartNew();
            double elapsedBefore = setup.StartStep > 0 ? MetricsFile.ReadLast(layout.Root)?.ElapsedSeconds ?? 0 : 0;
            reporter?.Started(setup.TotalSteps, setup.StartStep);
            for (int step = setup.StartStep; step < setup.TotalSteps; step++)
            {
                _step = step + 1;
                var result = TrainStep(setup, step, reporter);
                guard.Check(result);
                foreach (var observer in observers) observer.AfterOptimizerStep(result.Step);
                reporter?.Step(metrics.Measure(result, setup.TotalSteps, setup.EpochOf(step, config.AccumulativeCounts), elapsedBefore + clock.Elapsed.TotalSeconds));
                if (!_checkpointPolicy.ShouldSave(result.Step, setup.TotalSteps, result.CheckpointRequested, result.StopRequested)) continue;
                _checkpointPolicy.Saved();
                _phase = "saving a checkpoint";
                var path = checkpoints.Save(new TrainerState
                {
                    Step = result.Step, TotalSteps = setup.TotalSteps, WorldSize = _runtime.World.Size, ZeroStage = config.ZeroStage,
                    SequenceParallelSize = _layout.SequenceParallelSize, Name = config.Name, Saved = DateTime.UtcNow,
                }, setup.Optimizer, _runtime.World);
                reporter?.Checkpoint(path);
                if (CheckpointPolicy.ShouldStop(result.Step, setup.TotalSteps, result.StopRequested))
                {
                    // Every rank saw the same request in the step's summary: all of them end here, without the export.
                    reporter?.Stopped(result.Step, setup.TotalSteps, path);
                    return;
                }
            }

            _phase = "the export of the model";
            _step = null;
            Export(setup, layout.Model);
            // Every rank's own peak, in its log (metrics carry rank 0's): memory per rank against the SP size.
            // On CUDA the first figure is the rank's own (NVML), then the whole device's, which ranks sharing a GPU share.
            _options.Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "rank {0} peak memory {1:F3} GiB, host {2:F3} GiB{3}{4}",
                _env.Rank, _memory.PeakGib, DeviceMemory.ResidentPeakGib(),
                _memory.DevicePeakGib is double device ? string.Format(CultureInfo.InvariantCulture, ", device {0:F3} GiB", device) : "",
                _memory.Unavailable is string why ? $" (the rank's own figure is the device's: {why})" : ""));
            reporter?.Done(layout.Model);
        }

        /// <summary>One optimizer step (<paramref name="step"/> from 0): every micro-batch's forward and backward, then AdamW.</summary>
        private StepResult TrainStep(TrainingSetup setup, int step, RunReporter? reporter)
        {
            _phases?.BeginStep();
            var clock = Stopwatch.StartNew();
            var world = _runtime.World;
            var device = _runtime.Device;
            int accum = _config.AccumulativeCounts;
            var chunks = Enumerable.Range(0, accum).Select(j => setup.MicroBatch(step, j, accum, _layout, _env.Rank)).ToList();

            // Each micro-batch's valid targets over the whole world, and the tokens: the divisor of every rank's loss is their sum.
            var counts = AllReduced(chunks.Select(c => (double)c.ValidTargets).Append(chunks.Sum(c => (double)c.BatchSize * c.ChunkLength)).ToArray());
            double tokens = counts[accum];
            // A micro-batch without targets adds nothing to the loss or the gradients: every rank skips it alike.
            var withTargets = Enumerable.Range(0, accum).Where(j => counts[j] > 0).ToList();
            double targets = Math.Max(1.0, withTargets.Sum(j => counts[j]));
            if (withTargets.Count < accum)
                reporter?.Warning($"step {step + 1}: {accum - withTargets.Count} of its {accum} micro-batch(es) hold no targets (every label masked) and are skipped" +
                                   (withTargets.Count == 0 ? "; the step updates nothing." : "."));

            using var lossSum = zeros(1, ScalarType.Float64, device);
            foreach (int j in withTargets)
            {
                lossSum.add_(ForwardBackward(setup, chunks[j], targets));
                if (j != withTargets[^1]) setup.Optimizer.Zero.AccumulateMicroBatch();
            }

            double lr = setup.Schedule.At(step);
            // Device work is asynchronous: the optimizer's share of the step is timed between two synchronisations.
            Synchronize();
            var optimizerClock = Stopwatch.StartNew();
            _phase = "the optimizer step";
            double gradNorm;
            using (StepPhases.Enter(StepPhases.Optimizer))
                gradNorm = withTargets.Count > 0 ? setup.Optimizer.StepAll(lr) : 0.0;
            Synchronize();
            double optimizerSeconds = optimizerClock.Elapsed.TotalSeconds;
            _memory.Sample();
            // One small all-reduce carries the loss and whether any rank was asked to checkpoint (SIGUSR1) or to stop (SIGUSR2).
            double[] totals;
            using (NewDisposeScope())
            {
                var requests = new[] { _checkpointPolicy.Requested ? 1.0 : 0.0, _checkpointPolicy.StopRequested ? 1.0 : 0.0 };
                var summary = cat(new[] { lossSum, tensor(requests, ScalarType.Float64, device) });
                world.AllReduce(summary);
                totals = summary.cpu().data<double>().ToArray();
            }
            var phases = _phases?.EndStep();
            return new StepResult(step + 1, totals[0], targets, tokens, chunks[0].FullLength, lr, gradNorm,
                clock.Elapsed.TotalSeconds, optimizerSeconds, totals[1] > 0, totals[2] > 0, phases);
        }

        /// <summary>
        /// One micro-batch: forward, the chunked loss, and backward of (loss sum / <paramref name="globalTargets"/>).
        /// Returns the loss sum (float64, detached) on the compute device.
        /// </summary>
        private Tensor ForwardBackward(TrainingSetup setup, SequenceChunk chunk, double globalTargets)
        {
            using var scope = NewDisposeScope();
            var device = _runtime.Device;
            var model = setup.Model;
            _phase = "forward";
            setup.Optimizer.Zero.BeginMicroBatch();
            var ids = tensor(chunk.InputIds, device: device).view(chunk.BatchSize, chunk.ChunkLength);
            var positions = tensor(chunk.PositionIds, device: device).view(chunk.BatchSize, chunk.ChunkLength);
            var targets = tensor(chunk.Targets, device: device);
            Tensor hidden, loss;
            using (StepPhases.Enter(StepPhases.Forward))
                hidden = model.Forward(ids, positions, chunk.RopeSequenceLength, chunk.Documents);
            using (StepPhases.Enter(StepPhases.Loss))
                loss = LanguageModelLoss.Sum(hidden.reshape(-1, hidden.shape[2]), model.LmHeadWeight, targets, model.LogitScale,
                    LossChunkTokens(setup.Spec));
            _phase = "backward";
            using (StepPhases.Enter(StepPhases.Backward))
                loss.div(globalTargets).backward();
            _memory.Sample();
            return loss.detach().to(ScalarType.Float64).MoveToOuterDisposeScope();
        }

        /// <summary>The final model as a Hugging Face checkpoint, tensor by tensor as the ZeRO strategy holds it.</summary>
        private void Export(TrainingSetup setup, string folder)
        {
            var parameters = setup.Optimizer.Zero.FinalParameters(keep: IsRankZero);
            try
            {
                if (IsRankZero) HfCheckpoint.Save(parameters, setup.Spec, folder, setup.ComputeType);
            }
            finally
            {
                foreach (var t in parameters) t.Value.Dispose();
            }
            if (IsRankZero) setup.Tokenizer?.SaveTo(folder);
        }

        private double[] AllReduced(double[] values)
        {
            using var scope = NewDisposeScope();
            var sums = tensor(values, ScalarType.Float64, _runtime.Device);
            _runtime.World.AllReduce(sums);
            return sums.cpu().data<double>().ToArray();
        }

        private void Synchronize()
        {
            if (_cuda) cuda.synchronize();
        }

        private static int LossChunkTokens(ModelSpec spec) => XTuner.Core.Planning.LossChunks.Tokens(spec.VocabSize ?? 32000);

        /// <summary>The checkpoint to resume from, or null for a fresh start (refused over an earlier run's checkpoints).</summary>
        private string? ResumeCheckpoint(WorkDirLayout layout)
        {
            if (_options.ResumeFrom != null)
            {
                if (!Directory.Exists(_options.ResumeFrom))
                    throw new XTunerException(ErrorIds.PathNotFound, $"Checkpoint '{_options.ResumeFrom}' does not exist.");
                return _options.ResumeFrom;
            }
            if (_options.Resume) return layout.LatestCheckpoint;
            if (IsRankZero && layout.LatestCheckpoint != null)
                throw new XTunerException(ErrorIds.InvalidConfig,
                    $"{layout.Root} holds checkpoints of an earlier run. Resume it (--resume), or choose another work dir (or remove that one).");
            return null;
        }

        /// <summary>A fresh run replaces an earlier run's metrics (never its checkpoints: those stop a fresh start).</summary>
        private static void StartFresh(WorkDirLayout layout)
        {
            if (File.Exists(layout.Metrics)) File.Delete(layout.Metrics);
            if (Directory.Exists(layout.TensorBoard)) Directory.Delete(layout.TensorBoard, recursive: true);
        }

        public void Dispose()
        {
            _checkpointPolicy.Dispose();
            _phases?.Dispose();
            _runtime.Dispose();
        }
    }
}
