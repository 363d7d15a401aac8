using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Core;
using XTuner.Core.Configuration;
using XTuner.Core.Planning;
using XTuner.Core.Launch;
using XTuner.Core.Models;
using XTuner.Core.Runs;
using XTuner.Training.Data;
using XTuner.Training.Distributed;
using XTuner.Training.IO;
using XTuner.Training.Kernels;
using XTuner.Training.Models;
using XTuner.Training.Optim;
using XTuner.Training.SequenceParallel;
using XTuner.Training.Tokenization;
using XTuner.Training.Zero;
using static TorchSharp.torch;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// Everything a rank's run is made of, resolved once before the first step: the model (built, loaded or resumed,
    /// with its attention kernel and ZeRO strategy), the tokenizer, the data and its sampler, the schedule, and where
    /// the run starts.
    /// </summary>
    internal sealed class TrainingSetup : IDisposable
    {
        private readonly ActivationOffload? _activationOffload;
        private readonly bool _isolateDocuments;

        private TrainingSetup(ModelSpec spec, ScalarType computeType, ITextTokenizer? tokenizer, IReadOnlyList<PackedSequence> data,
            BatchSampler sampler, int totalSteps, LearningRateSchedule schedule, DecoderModel model, MixedPrecisionAdamW optimizer,
            ActivationOffload? activationOffload, bool isolateDocuments)
        {
            _activationOffload = activationOffload;
            _isolateDocuments = isolateDocuments;
            Spec = spec;
            ComputeType = computeType;
            Tokenizer = tokenizer;
            Data = data;
            Sampler = sampler;
            TotalSteps = totalSteps;
            Schedule = schedule;
            Model = model;
            Optimizer = optimizer;
        }

        /// <summary>The model as built (the checkpoint's config.json merged with the config's overrides).</summary>
        public ModelSpec Spec { get; }

        public ScalarType ComputeType { get; }

        /// <summary>Null for data that needs none (tokenized, synthetic).</summary>
        public ITextTokenizer? Tokenizer { get; }

        public IReadOnlyList<PackedSequence> Data { get; }

        public BatchSampler Sampler { get; }

        public int TotalSteps { get; }

        public LearningRateSchedule Schedule { get; }

        public DecoderModel Model { get; }

        public MixedPrecisionAdamW Optimizer { get; }

        /// <summary>Steps already taken: 0, or the resumed checkpoint's step.</summary>
        public int StartStep { get; private set; }

        /// <summary>What fills padding.</summary>
        public int PadId => Tokenizer?.PadTokenId ?? Tokenizer?.EosTokenId ?? 0;

        /// <summary>
        /// Resolves and builds everything for rank <paramref name="rank"/>. <paramref name="resumeFrom"/> is the checkpoint
        /// to continue from, or null; rank 0's <paramref name="reporter"/> says what was built.
        /// </summary>
        public static TrainingSetup Create(XTunerConfig config, int rank, int localRanks, DistributedRuntime runtime, IProcessGroup sequenceParallel,
            ParallelLayout layout, string? resumeFrom, RunReporter? reporter, double? freeDeviceBytes = null)
        {
            var baseDir = Directory.GetCurrentDirectory();
            var device = runtime.Device;
            var world = runtime.World;
            var resolved = ResolvedModel.Resolve(config, baseDir).ThrowOnError();
            if (!config.RandomInit && resolved.CheckpointDirectory == null)
                throw new XTunerException(ErrorIds.ModelNotFound, resolved.Findings.FirstOrDefault()?.Message ?? $"Checkpoint '{config.PretrainedModelNameOrPath}' not found.");
            var spec = resolved.Spec;
            config.Model = spec;
            // Before the model is built: its norms and MLPs read it.
            if (FusedKernels.Configure(config.FusedKernels, device.type) is string kernelsNote) reporter?.Warning(kernelsNote);
            else if (FusedKernels.Enabled) reporter?.Info($"fused CUDA kernels on (fused_kernels: {ConfigValues.FormatEnum(config.FusedKernels)}): AdamW, gradient norm, RMSNorm, SwiGLU, rotary embedding, cross-entropy");
            Models.Attention.CudnnAttention.Note = reporter is null ? null : reporter.Warning;
            bool needsTokenizer = config.DatasetFormat != DatasetFormat.Tokenized && config.DatasetFormat != DatasetFormat.Synthetic;
            var tokenizer = needsTokenizer ? TokenizerLoader.Load(config.Tokenizer, resolved.CheckpointDirectory) : null;

            var data = DatasetBuilder.Build(config, tokenizer, baseDir, out var stats, reporter);
            DatasetBuilder.RequireTargets(config, stats);
            var sampler = new BatchSampler(data.Count, config.BatchSize, layout.DpRank(rank), layout.DataParallelSize, config.Seed, config.Shuffle);
            int accum = config.AccumulativeCounts;
            int totalSteps = config.MaxSteps ?? Math.Max(1, (config.MaxEpochs ?? 1) * sampler.BatchesPerEpoch / accum);
            var schedule = new LearningRateSchedule(config.Lr, totalSteps, config.WarmupRatio);
            reporter?.Info($"model {config.ModelName}: {spec.ParameterCount:N0} parameters, {spec.NumHiddenLayers} layers, {spec.NumAttentionHeads} heads ({spec.NumKeyValueHeads} KV)");
            reporter?.Info($"data: {stats}; {sampler.BatchesPerEpoch} batches per epoch; {totalSteps} steps of {config.BatchSize * layout.DataParallelSize * accum} sequences");

            var computeType = config.DType == TrainingDType.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32;
            var recompute = Recompute(config, spec, device.type == TorchSharp.DeviceType.CUDA ? freeDeviceBytes : null, world.Size, reporter);
            int recomputed = recompute.Layers;
            if (config.WeightCastRefusal(world.Size) is string refusal) throw new XTunerException(ErrorIds.InvalidConfig, refusal);
            bool castWeights = config.CastsWeightsPerLayer(world.Size);
            int offloadedLayers = CheckOffload(config, spec, computeType, recomputed, world.Size, localRanks, castWeights, reporter);
            var (model, shards) = BuildModel(config, spec, computeType, device, world, resolved.CheckpointDirectory, loadWeights: resumeFrom == null);
            try
            {
                model.ActivationCheckpointing = LayerCount.Of(recomputed);
                model.RecomputeAttention = LayerCount.Of(recompute.AttentionLayers);
                model.MlpTiling = new MlpTiling(config.MlpTiles);
                var activationOffload = offloadedLayers > 0 ? new ActivationOffload(offloadedLayers) : null;
                model.ActivationOffload = activationOffload;
                if (layout.SequenceParallelSize > 1)
                    model.AttentionKernel = new UlyssesAttention(sequenceParallel, model.AttentionKernel, spec.NumAttentionHeads!.Value,
                        spec.NumKeyValueHeads ?? spec.NumAttentionHeads!.Value, config.SequenceParallelHeadPadding);
                var zero = ZeroStrategies.Create(config.ZeroStage, model, world, accum, shards, castWeights);
                model.LayerHooks = zero.LayerHooks;
                var settings = new OptimizerSettings
                {
                    Beta1 = config.Betas[0], Beta2 = config.Betas[1], WeightDecay = config.WeightDecay, MaxNorm = config.MaxNorm,
                };
                IOptimizerStates states = config.OffloadOptimizer
                    ? new HostOptimizerStates(zero, settings, pinned: device.type == TorchSharp.DeviceType.CUDA)
                    : new DeviceOptimizerStates(zero, settings, device, zero is CastParameters cast ? cast.Bind : null);
                var optimizer = new MixedPrecisionAdamW(zero, states, world, settings);
                var setup = new TrainingSetup(spec, computeType, tokenizer, data, sampler, totalSteps, schedule, model, optimizer, activationOffload, config.IsolatesDocuments);
                if (resumeFrom != null)
                {
                    setup.StartStep = TrainingCheckpoints.Load(resumeFrom, optimizer, rank, world.Size).Step;
                    reporter?.Info($"resumed from {resumeFrom} at step {setup.StartStep}");
                }
                return setup;
            }
            catch
            {
                shards?.Dispose();
                model.Dispose();
                throw;
            }
        }

        /// <summary>
        /// Refuses offload the host cannot hold and says where the memory goes; returns how many layers keep their
        /// checkpointed inputs in host memory (offload_activations, auto resolved).
        /// </summary>
        private static int CheckOffload(XTunerConfig config, ModelSpec spec, ScalarType computeType, int recomputed, int worldSize, int localRanks,
            bool castWeights, RunReporter? reporter)
        {
            int shards = config.ZeroStage >= 1 ? worldSize : 1;
            int layers = spec.NumHiddenLayers ?? 0;
            long optimizer = config.OffloadOptimizer ? HostMemoryBudget.OptimizerBytes(spec, shards) : 0;
            long perLayer = HostMemoryBudget.ActivationBytesPerLayer(config, spec, computeType == ScalarType.BFloat16 ? 2 : 4);
            // Only a recomputed layer has a checkpointed input to offload.
            int offloaded = Math.Min(recomputed, config.OffloadActivations.Of(layers, auto: HostMemoryBudget.LayersThatFit(optimizer, perLayer, localRanks)));
            long activations = offloaded * perLayer;
            HostMemoryBudget.Check(optimizer, activations, localRanks);
            string checkpoints = recomputed == 0 ? "off"
                : (recomputed < layers ? $"of the first {recomputed} of {layers} layers (the rest keep their activations) " : "") +
                  (offloaded == 0 ? "on the device"
                : offloaded == layers ? $"in host memory ({Bytes(activations)} per rank)"
                : $"of {offloaded} of {layers} layers in host memory ({Bytes(activations)} per rank), the rest on the device");
            reporter?.Info(string.Format(System.Globalization.CultureInfo.InvariantCulture,
                "memory: optimizer states {0}, {1}, checkpointed activations {2}, mlp_tiles {3}",
                config.OffloadOptimizer ? $"in host memory ({Bytes(optimizer)} per rank)" : "on the device",
                castWeights ? "each layer's weights cast from the float32 master as it runs (cast_weights_per_layer)" : "weights kept whole in the compute dtype",
                checkpoints, config.MlpTiles));
            return offloaded;
        }

        /// <summary>
        /// Which layers, the first ones, recompute in backward, and which of those rerun attention: activation_checkpointing
        /// and recompute_attention resolved. auto takes the split the planner's model (<see cref="RecomputeBudget"/>)
        /// predicts fastest within <paramref name="freeDeviceBytes"/> (this rank's share of the GPU's free memory before the
        /// model is built), and recomputes every layer with attention on the CPU (no device budget); under ZeRO-3 (which
        /// gathers parameters again for recompute) every layer recomputes and only attention is chosen.
        /// </summary>
        internal static RecomputeChoice Recompute(XTunerConfig config, ModelSpec spec, double? freeDeviceBytes, int worldSize, RunReporter? reporter)
        {
            int layers = spec.NumHiddenLayers ?? 0;
            var given = RecomputeChoice.Given(config, layers);
            if (!config.ActivationCheckpointing.IsAuto || !(freeDeviceBytes is double free))
            {
                if (given.AttentionKeptLayers > 0)
                    reporter?.Info($"recompute_attention {config.RecomputeAttention}: {given.AttentionKeptLayers} of {given.Layers} recomputed layers keep attention's inputs and output instead of rerunning it");
                return given;
            }
            RecomputeChoice choice;
            try
            {
                // What the layers keep depends on whether the kernels really run (auto without NVRTC does not).
                var asRun = config.Clone();
                asRun.FusedKernels = FusedKernels.Enabled ? FusedKernelsMode.On : FusedKernelsMode.Off;
                choice = RecomputeBudget.Choose(asRun, worldSize, free);
            }
            catch (XTunerException e)
            {
                reporter?.Warning($"activation_checkpointing auto recomputes every layer: the planner cannot estimate this model ({e.Message})");
                return given;
            }
            reporter?.Info(AutoRecomputeLine.Format(choice, layers, free, config.GpuMemoryBudgetGib));
            return choice;
        }

        private static string Bytes(long bytes) => bytes >= 1L << 30
            ? string.Format(System.Globalization.CultureInfo.InvariantCulture, "{0:F1} GiB", bytes / (double)(1L << 30))
            : string.Format(System.Globalization.CultureInfo.InvariantCulture, "{0:F1} MiB", bytes / (double)(1L << 20));

        /// <summary>
        /// The model in the compute dtype (the float32 master copy comes from these values: no float32 model transient),
        /// with the checkpoint's weights unless a resumed optimizer state will overwrite them; weights that will be
        /// overwritten are not drawn first. ZeRO-3 lays out its shards from the model on the meta device and keeps each
        /// layer's shard as the layer is built.
        /// </summary>
        private static (DecoderModel Model, ShardedParameters? Shards) BuildModel(XTunerConfig config, ModelSpec spec, ScalarType dtype,
            Device device, IProcessGroup world, string? checkpoint, bool loadWeights)
        {
            var shards = config.ZeroStage == 3 ? ShardedParameters.Lay(spec, dtype, device, world) : null;
            manual_seed(config.Seed);
            DecoderModel model;
            using (checkpoint != null || !loadWeights ? ModelInit.Uninitialized() : null)
                model = new DecoderModel(spec, device, dtype, shards != null ? shards.TakeLayer : null);
            try
            {
                if (shards != null)
                {
                    shards.TakeRemaining(model);
                    if (checkpoint != null && loadWeights)
                    {
                        using var reader = HfCheckpoint.Open(model, checkpoint, shards.ExpectedShapes);
                        shards.Load(reader);
                    }
                }
                else if (checkpoint != null && loadWeights)
                {
                    HfCheckpoint.Load(model, checkpoint);
                }
            }
            catch (InvalidDataException e)
            {
                // The message names the file and what is wrong in it.
                throw new XTunerException(ErrorIds.BadModelFile,
                    $"{e.Message.TrimEnd('.')}. Download the model again, or point pretrained_model_name_or_path at an intact copy of it.", e);
            }
            return (model, shards);
        }

        /// <summary>
        /// Micro-batch <paramref name="index"/> of step <paramref name="step"/> (both from 0), shifted, padded and cut to
        /// this rank's chunk of the SP group.
        /// </summary>
        public SequenceChunk MicroBatch(int step, int index, int accumulation, ParallelLayout layout, int rank)
        {
            long g = (long)step * accumulation + index;
            var indices = Sampler.Batch((int)(g / Sampler.BatchesPerEpoch), (int)(g % Sampler.BatchesPerEpoch));
            var rows = indices.Select(i => (Data[i].InputIds, Data[i].Labels, Data[i].PositionIds)).ToList();
            return SequenceChunk.Split(rows, PadId, layout.SequenceParallelSize, layout.SpRank(rank), _isolateDocuments);
        }

        /// <summary>The epoch step <paramref name="step"/> (from 0) belongs to.</summary>
        public int EpochOf(int step, int accumulation) => (int)((long)step * accumulation / Sampler.BatchesPerEpoch);

        public void Dispose()
        {
            Optimizer.Dispose();
            _activationOffload?.Dispose();
            Model.Dispose();
        }
    }
}
