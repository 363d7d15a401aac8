using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using TorchSharp;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Core.Models;
using XTuner.Core.Runs;
using XTuner.Training.Data;
using XTuner.Training.Distributed;
using XTuner.Training.IO;
using XTuner.Training.Models;
using XTuner.Training.Runtime;
using XTuner.Training.SequenceParallel;
using XTuner.Training.Tokenization;
using static TorchSharp.torch;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// One rank's training run: rendezvous, model, data, then steps whose loss is the exact token mean over the whole
    /// global batch. Each micro-batch's sequences are shifted, padded and split across the SP group
    /// (<see cref="SequenceChunk"/>); every rank back-propagates (its loss sum / the global target count) and the
    /// optimizer sums gradients over the world, which equals one process training on the same global batch.
    /// </summary>
    public sealed class Trainer : IDisposable
    {
        /// <summary>Logits of this many bytes (float32) at most are built at once by the chunked loss.</summary>
        private const long LossChunkBytes = 1L << 30;
        private const double DefaultPeakTflops = 989.0;

        /// <summary>Diagnostics: rank 0 writes each step's reduced gradients and updated parameters here (exactness tests).</summary>
        public const string DumpEnvironmentVariable = "XTUNER_DUMP_DIR";

        private readonly XTunerConfig _config;
        private readonly RankEnvironment _env;
        private readonly TrainOptions _options;
        private readonly DistributedRuntime _runtime;
        private readonly ParallelLayout _layout;
        private readonly IProcessGroup _sequenceParallel;
        private readonly bool _cuda;
        private volatile bool _checkpointRequested;
        private PosixSignalRegistration? _usr1;

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
            _runtime = DistributedRuntime.Initialize(env, _cuda ? DeviceType.CUDA : DeviceType.CPU, options.Timeout);
            _layout = new ParallelLayout(env.WorldSize, config.SequenceParallelSize);
            // Gradients are reduced over the whole world; only the SP groups need communicators of their own.
            _sequenceParallel = _layout.SequenceParallelSize > 1 ? _runtime.SequenceParallelGroup(_layout) : _runtime.World;
            // SLURM sends SIGUSR1 before the time limit: checkpoint at the next step boundary (all ranks agree on when).
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
                _usr1 = PosixSignalRegistration.Create((PosixSignal)10, ctx =>
                {
                    ctx.Cancel = true;
                    _checkpointRequested = true;
                });
        }

        private bool IsRankZero => _env.Rank == 0;

        /// <summary>Trains with a prepared config (absolute paths, validated) as the given rank.</summary>
        public static void Run(XTunerConfig config, RankEnvironment env, TrainOptions options)
        {
            LauncherWatch.Start();
            using var trainer = new Trainer(config, env, options);
            try
            {
                trainer.Train();
            }
            catch
            {
                // Let the other ranks see this one is gone now (they would otherwise wait for it until their timeout).
                trainer._runtime.Abort();
                throw;
            }
        }

        private void Train()
        {
            var config = _config;
            var world = _runtime.World;
            var layout = _layout;
            var device = _runtime.Device;
            var workDir = config.WorkDir ?? throw new XTunerException(ErrorIds.InvalidConfig, "The config has no work_dir.");
            var baseDir = Directory.GetCurrentDirectory();
            var resumeFrom = ResumeCheckpoint(workDir);

            var resolved = ResolvedModel.Resolve(config, baseDir).ThrowOnError();
            if (!config.RandomInit && resolved.CheckpointDirectory == null)
                throw new XTunerException(ErrorIds.ModelNotFound, resolved.Findings.FirstOrDefault()?.Message ?? $"Checkpoint '{config.PretrainedModelNameOrPath}' not found.");
            var spec = resolved.Spec;
            config.Model = spec;
            bool needsTokenizer = config.DatasetFormat != DatasetFormat.Tokenized && config.DatasetFormat != DatasetFormat.Synthetic;
            var tokenizer = needsTokenizer ? TokenizerLoader.Load(config.Tokenizer, resolved.CheckpointDirectory) : null;

            if (IsRankZero && resumeFrom == null) StartFresh(workDir);
            using var reporter = IsRankZero ? new RunReporter(workDir, _options.Console, _options.Events, config.LoggingInterval) : null;
            var data = DatasetBuilder.Build(config, tokenizer, baseDir, out var stats, reporter);
            var sampler = new BatchSampler(data.Count, config.BatchSize, layout.DpRank(_env.Rank), layout.DataParallelSize, config.Seed, config.Shuffle);
            int accum = config.AccumulativeCounts;
            int totalSteps = config.MaxSteps ?? Math.Max(1, (config.MaxEpochs ?? 1) * sampler.BatchesPerEpoch / accum);
            var schedule = new LearningRateSchedule(config.Lr, totalSteps, config.WarmupRatio);
            int padId = tokenizer?.PadTokenId ?? tokenizer?.EosTokenId ?? 0;

            reporter?.Info($"xtuner {_env} | {layout} | {ConfigValues.FormatEnum(config.Device)} {ConfigValues.FormatEnum(config.DType)} | zero {config.ZeroStage}");
            reporter?.Info($"model {config.ModelName}: {spec.ParameterCount:N0} parameters, {spec.NumHiddenLayers} layers, {spec.NumAttentionHeads} heads ({spec.NumKeyValueHeads} KV)");
            reporter?.Info($"data: {stats}; {sampler.BatchesPerEpoch} batches per epoch; {totalSteps} steps of {config.BatchSize * layout.DataParallelSize * accum} sequences");

            var computeType = config.DType == TrainingDType.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32;
            int zeroStage = config.ZeroStage;
            // ZeRO-3 lays out the shards from a model on the meta device, then keeps each layer's shard as it is built.
            using var shards = zeroStage == 3 ? ShardLayout(spec, computeType, device, world) : null;
            torch.manual_seed(config.Seed);
            // Built in the compute dtype: the float32 master copy comes from these values (no float32 model transient).
            // Weights a checkpoint (or a resumed optimizer state) will overwrite are not drawn first.
            DecoderModel model;
            using (resolved.CheckpointDirectory != null || resumeFrom != null ? ModelInit.Uninitialized() : null)
                model = new DecoderModel(spec, device, computeType, shards != null ? shards.TakeLayer : null);
            using var modelScope = model;
            if (shards != null)
            {
                shards.TakeRemaining(model);
                if (resolved.CheckpointDirectory != null && resumeFrom == null)
                {
                    using var reader = HfCheckpoint.Open(model, resolved.CheckpointDirectory, shards.ExpectedShapes);
                    shards.Load(reader);
                }
            }
            else if (resolved.CheckpointDirectory != null && resumeFrom == null)
            {
                HfCheckpoint.Load(model, resolved.CheckpointDirectory);
            }
            model.ActivationCheckpointing = config.ActivationCheckpointing;
            if (layout.SequenceParallelSize > 1)
                model.AttentionKernel = new UlyssesAttention(_sequenceParallel, spec.NumAttentionHeads!.Value,
                    spec.NumKeyValueHeads ?? spec.NumAttentionHeads!.Value, config.SequenceParallelHeadPadding);
            var settings = new OptimizerSettings
            {
                Beta1 = config.Betas[0], Beta2 = config.Betas[1], WeightDecay = config.WeightDecay, MaxNorm = config.MaxNorm,
            };
            using var optimizer = new ShardedOptimizer(model, world, zeroStage, settings,
                accumulationSteps: accum, parameterShards: shards);
            model.LayerHooks = optimizer.LayerHooks;
            bool sharded = zeroStage >= 1 && world.Size > 1;
            var dumpDir = Environment.GetEnvironmentVariable(DumpEnvironmentVariable);
            int dumpStep = 0;
            if (!string.IsNullOrEmpty(dumpDir))
            {
                Directory.CreateDirectory(dumpDir);
                optimizer.OnReducedGradients = grads =>
                {
                    if (IsRankZero) SafetensorsWriter.Write(Path.Combine(dumpDir, $"grads-step{dumpStep}.safetensors"), grads);
                };
            }
            var checkpoints = new TrainingCheckpoints(workDir, config.SaveTotalLimit);
            int startStep = 0;
            if (resumeFrom != null)
            {
                startStep = TrainingCheckpoints.Load(resumeFrom, optimizer, _env.Rank, world.Size, sharded).Step;
                if (IsRankZero) MetricsFile.TruncateAfter(workDir, startStep);
                reporter?.Info($"resumed from {resumeFrom} at step {startStep}");
            }

            var memory = new DeviceMemory(_cuda);
            long parameters = spec.ParameterCount ?? 0;
            int chunkTokens = (int)Math.Max(256, LossChunkBytes / (4L * (spec.VocabSize ?? 32000)));
            double peakFlops = (double.TryParse(Environment.GetEnvironmentVariable("XTUNER_PEAK_TFLOPS"), out var tf) ? tf : DefaultPeakTflops) * 1e12;
            var clock = Stopwatch.StartNew();
            double elapsedBefore = startStep > 0 ? MetricsFile.Read(workDir).LastOrDefault()?.ElapsedSeconds ?? 0 : 0;
            reporter?.Started(totalSteps, startStep);

            for (int step = startStep; step < totalSteps; step++)
            {
                var stepClock = Stopwatch.StartNew();
                var chunks = new List<SequenceChunk>(accum);
                for (int j = 0; j < accum; j++)
                {
                    long g = (long)step * accum + j;
                    var indices = sampler.Batch((int)(g / sampler.BatchesPerEpoch), (int)(g % sampler.BatchesPerEpoch));
                    var rows = indices.Select(i => (data[i].InputIds, data[i].Labels, data[i].PositionIds)).ToList();
                    chunks.Add(SequenceChunk.Split(rows, padId, layout.SequenceParallelSize, layout.SpRank(_env.Rank)));
                }

                // The divisor of every rank's loss: valid targets over the whole world and all micro-batches.
                double globalTargets, globalTokens;
                using (NewDisposeScope())
                {
                    var counts = tensor(new double[] { chunks.Sum(c => c.ValidTargets), chunks.Sum(c => (double)c.BatchSize * c.ChunkLength) }, ScalarType.Float64, device);
                    world.AllReduce(counts);
                    var host = counts.cpu().data<double>().ToArray();
                    globalTargets = Math.Max(1.0, host[0]);
                    globalTokens = host[1];
                }

                using var lossSum = zeros(1, ScalarType.Float64, device);
                for (int j = 0; j < accum; j++)
                {
                    using var scope = NewDisposeScope();
                    var c = chunks[j];
                    optimizer.BeginMicroBatch();
                    var ids = tensor(c.InputIds, device: device).view(c.BatchSize, c.ChunkLength);
                    var positions = tensor(c.PositionIds, device: device).view(c.BatchSize, c.ChunkLength);
                    var targets = tensor(c.Targets, device: device);
                    var hidden = model.Forward(ids, positions, c.RopeSequenceLength);
                    var loss = LanguageModelLoss.Sum(hidden.reshape(-1, hidden.shape[2]), model.LmHeadWeight, targets, model.LogitScale, chunkTokens);
                    loss.div(globalTargets).backward();
                    lossSum.add_(loss.detach().to(ScalarType.Float64));
                    memory.Sample();
                    if (j < accum - 1) optimizer.AccumulateMicroBatch();
                }

                double lr = schedule.At(step);
                dumpStep = step + 1;
                double gradNorm = optimizer.StepAll(lr);
                if (!string.IsNullOrEmpty(dumpDir))
                {
                    optimizer.GatherParameters();
                    if (IsRankZero)
                        SafetensorsWriter.Write(Path.Combine(dumpDir, $"params-step{step + 1}.safetensors"),
                            model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)).ToList(), ScalarType.Float32);
                    optimizer.ReleaseParameters();
                }
                memory.Sample();
                // One small all-reduce carries the loss and whether any rank was asked to checkpoint (SIGUSR1).
                double[] totals;
                using (NewDisposeScope())
                {
                    var summary = cat(new[] { lossSum, tensor(new[] { _checkpointRequested ? 1.0 : 0.0 }, ScalarType.Float64, device) });
                    world.AllReduce(summary);
                    totals = summary.cpu().data<double>().ToArray();
                }
                double stepTime = stepClock.Elapsed.TotalSeconds;
                var metrics = new XTunerStep
                {
                    Step = step + 1,
                    TotalSteps = totalSteps,
                    Epoch = (int)((long)step * accum / sampler.BatchesPerEpoch),
                    Loss = totals[0] / globalTargets,
                    Lr = lr,
                    GradNorm = gradNorm,
                    Tokens = (long)globalTokens,
                    TargetTokens = (long)globalTargets,
                    StepTimeSeconds = stepTime,
                    TokensPerSecondPerGpu = globalTokens / stepTime / world.Size,
                    // 6N per token for the dense layers, 6 L h S for causal attention (S = the whole sequence).
                    Mfu = _cuda ? (6.0 * parameters + 6.0 * (spec.NumHiddenLayers ?? 0) * (spec.HiddenSize ?? 0) * chunks[0].FullLength) * globalTokens / (stepTime * world.Size * peakFlops) : (double?)null,
                    MaxMemoryGib = memory.PeakGib,
                    ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds,
                };
                reporter?.Step(metrics);

                bool last = step + 1 == totalSteps;
                bool scheduled = config.SaveSteps > 0 && (step + 1) % config.SaveSteps == 0;
                if (scheduled || totals[1] > 0 || (last && config.SaveSteps > 0))
                {
                    _checkpointRequested = false;
                    var path = checkpoints.Save(new TrainerState
                    {
                        Step = step + 1, TotalSteps = totalSteps, WorldSize = world.Size, ZeroStage = zeroStage,
                        SequenceParallelSize = layout.SequenceParallelSize, Name = config.Name, Saved = DateTime.UtcNow,
                    }, optimizer, world, sharded);
                    reporter?.Checkpoint(path);
                }
            }

            var export = Path.Combine(workDir, "hf");
            if (shards != null)
            {
                // Unit by unit to rank 0's host memory: the whole model never sits on one device.
                var host = shards.GatherToHost(keep: IsRankZero);
                if (IsRankZero) HfCheckpoint.Save(host, spec, export, computeType);
                foreach (var t in host) t.Value.Dispose();
            }
            else if (IsRankZero)
            {
                HfCheckpoint.Save(model, spec, export, saveDtype: computeType);
            }
            if (IsRankZero) tokenizer?.SaveTo(export);
            // Every rank's own peak, in its log (metrics carry rank 0's): memory per rank against the SP size.
            _options.Console.WriteLine(string.Format(System.Globalization.CultureInfo.InvariantCulture, "rank {0} peak memory {1:F3} GiB", _env.Rank, memory.PeakGib));
            reporter?.Done(export);
        }

        /// <summary>ZeRO-3's shard layout over the world, from the model's parameter names and shapes on the meta device.</summary>
        private static ParameterShards ShardLayout(ModelSpec spec, ScalarType dtype, Device device, IProcessGroup world)
        {
            using var meta = new DecoderModel(spec, new Device("meta"), dtype);
            var units = ParameterUnit.Partition(meta.named_parameters().Select(p => (p.name, p.parameter.shape)).ToList(),
                Optim.ParameterGroups.NoDecay, world.Size, world.Rank);
            return new ParameterShards(units, world, dtype, device);
        }

        /// <summary>The checkpoint to resume from, or null for a fresh start (refused over an earlier run's checkpoints).</summary>
        private string? ResumeCheckpoint(string workDir)
        {
            if (_options.ResumeFrom != null)
            {
                if (!Directory.Exists(_options.ResumeFrom))
                    throw new XTunerException(ErrorIds.PathNotFound, $"Checkpoint '{_options.ResumeFrom}' does not exist.");
                return _options.ResumeFrom;
            }
            if (_options.Resume) return WorkDirs.LatestCheckpoint(workDir);
            if (IsRankZero && WorkDirs.LatestCheckpoint(workDir) != null)
                throw new XTunerException(ErrorIds.InvalidConfig,
                    $"{workDir} holds checkpoints of an earlier run. Resume it (--resume), or choose another work dir (or remove that one).");
            return null;
        }

        /// <summary>A fresh run replaces an earlier run's metrics (never its checkpoints: those stop a fresh start).</summary>
        private static void StartFresh(string workDir)
        {
            var metrics = Path.Combine(workDir, MetricsFile.FileName);
            if (File.Exists(metrics)) File.Delete(metrics);
            var tensorBoard = Path.Combine(workDir, "tensorboard");
            if (Directory.Exists(tensorBoard)) Directory.Delete(tensorBoard, recursive: true);
        }

        public void Dispose()
        {
            _usr1?.Dispose();
            _runtime.Dispose();
        }
    }
}
