using System.Collections.Generic;

namespace XTuner.Core.Configuration
{
    /// <summary>
    /// One training job: model, data, parallelism, optimisation, output and launcher settings.
    /// A plain object in PowerShell; YAML with XTuner's snake_case keys on disk.
    /// </summary>
    public sealed class XTunerConfig
    {
        public const string ModelGroup = "model";
        public const string DataGroup = "data";
        public const string ParallelGroup = "parallelism";
        public const string OptimGroup = "optimisation";
        public const string MemoryGroup = "memory";
        public const string OutputGroup = "output";
        public const string LauncherGroup = "launcher";

        // catalogue metadata
        [ConfigKey("name", "Short name; also the default work_dir (work_dirs/<name>) and SLURM job name.", Group = ModelGroup)]
        public string? Name { get; set; }

        [ConfigKey("description", "One line shown by Get-XTunerConfig and xtuner list-cfg.", Group = ModelGroup)]
        public string? Description { get; set; }

        // model
        [ConfigKey("pretrained_model_name_or_path", "Hugging Face checkpoint: a local folder, or an id found in the Hugging Face cache.", Group = ModelGroup)]
        public string? PretrainedModelNameOrPath { get; set; }

        [ConfigKey("random_init", "Build the model from the `model` section with random weights (benchmarks; no checkpoint needed).", Group = ModelGroup)]
        public bool RandomInit { get; set; }

        [ConfigKey("model", "Architecture: defines a random_init model, and checks or extends (rope, positions) a checkpoint.", Group = ModelGroup)]
        public ModelSpec Model { get; set; } = new ModelSpec();

        [ConfigKey("tokenizer", "tokenizer.json / tokenizer.model folder or file, or 'byte' for the byte-level tokenizer (default: the checkpoint's).", Group = ModelGroup)]
        public string? Tokenizer { get; set; }

        // data
        [ConfigKey("data_files", "JSONL (.jsonl, .jsonl.gz) or Parquet files (relative paths resolve against the config file's folder); builtin:<name> for bundled samples.", Group = DataGroup)]
        public List<string> DataFiles { get; set; } = new List<string>();

        [ConfigKey("dataset_format", "text, alpaca, chat, tokenized or synthetic.", Group = DataGroup)]
        public DatasetFormat DatasetFormat { get; set; } = DatasetFormat.Alpaca;

        [ConfigKey("synthetic_document_length", "dataset_format synthetic: documents of about this many tokens (each between half and 1.5 times it) packed into every sequence, as packed SFT data is; 0 (default) makes each sequence one document.", Group = DataGroup)]
        public int SyntheticDocumentLength { get; set; }

        [ConfigKey("prompt_template", "Chat/alpaca template (default: the architecture's own; see xtuner list-templates).", Group = DataGroup)]
        public string? PromptTemplate { get; set; }

        [ConfigKey("max_length", "Tokens per (packed) sequence.", Group = DataGroup)]
        public int MaxLength { get; set; } = 2048;

        [ConfigKey("pack_to_max_length", "Concatenate samples into sequences of max_length (positions restart per document).", Group = DataGroup)]
        public bool PackToMaxLength { get; set; } = true;

        [ConfigKey("use_varlen_attn", "Attention never crosses a document boundary of a packed sequence, and a document's first token is no target (default: true when pack_to_max_length; false keeps one causal attention over the whole packed sequence).", Group = DataGroup)]
        public bool? UseVarlenAttn { get; set; }

        [ConfigKey("shuffle", "Shuffle samples each epoch (seeded by seed).", Group = DataGroup)]
        public bool Shuffle { get; set; } = true;

        [ConfigKey("skip_bad_lines", "Skip and count malformed lines (JSONL) or rows (Parquet) instead of stopping at the first.", Group = DataGroup)]
        public bool SkipBadLines { get; set; }

        [ConfigKey("dataset_cache_dir", "Folder of tokenized, packed datasets, reused by every run with the same data, tokenizer and packing (default WORK_DIR/dataset_cache; none: tokenize in memory every run).", Group = DataGroup)]
        public string? DatasetCacheDir { get; set; }

        // parallelism
        [ConfigKey("sequence_parallel_size", "Ranks that split each sequence (Ulysses); must divide the world size.", Group = ParallelGroup)]
        public int SequenceParallelSize { get; set; } = 1;

        [ConfigKey("sequence_parallel_head_padding", "Allow attention heads that sequence_parallel_size does not divide, by padding heads (exact; costs extra attention work).", Group = ParallelGroup)]
        public bool SequenceParallelHeadPadding { get; set; }

        [ConfigKey("zero_stage", "ZeRO stage over the whole world: 0 off, 1 optimizer states, 2 + gradients, 3 + parameters.", Group = ParallelGroup)]
        public int ZeroStage { get; set; }

        [ConfigKey("nodes", "Machines.", Group = ParallelGroup)]
        public int Nodes { get; set; } = 1;

        [ConfigKey("gpus_per_node", "Ranks per machine: GPUs on CUDA, processes on CPU.", Group = ParallelGroup)]
        public int GpusPerNode { get; set; } = 1;

        [ConfigKey("ranks_per_gpu", "Ranks that share one GPU (CUDA): above 1, gpus_per_node may exceed the machine's GPUs, to try an SP or ZeRO layout on fewer GPUs than it is meant for; the collectives then go through host memory over TCP, since NCCL cannot put two ranks on one GPU (slower, same results).", Group = ParallelGroup)]
        public int RanksPerGpu { get; set; } = 1;

        [ConfigKey("device", "cpu or cuda.", Group = ParallelGroup)]
        public DeviceKind Device { get; set; } = DeviceKind.Cuda;

        // optimisation
        [ConfigKey("batch_size", "Sequences per rank per micro-batch.", Group = OptimGroup)]
        public int BatchSize { get; set; } = 1;

        [ConfigKey("accumulative_counts", "Micro-batches per optimizer step (the loss is the token mean over all of them).", Group = OptimGroup)]
        public int AccumulativeCounts { get; set; } = 1;

        [ConfigKey("max_epochs", "Passes over the data (ignored when max_steps is set).", Group = OptimGroup)]
        public int? MaxEpochs { get; set; } = 1;

        [ConfigKey("max_steps", "Optimizer steps; overrides max_epochs.", Group = OptimGroup)]
        public int? MaxSteps { get; set; }

        [ConfigKey("lr", "Peak learning rate (AdamW).", Group = OptimGroup)]
        public double Lr { get; set; } = 2e-5;

        [ConfigKey("betas", "AdamW betas.", Group = OptimGroup)]
        public List<double> Betas { get; set; } = new List<double> { 0.9, 0.999 };

        [ConfigKey("weight_decay", "AdamW decoupled weight decay (never on norms and biases).", Group = OptimGroup)]
        public double WeightDecay { get; set; }

        [ConfigKey("warmup_ratio", "Fraction of steps with linear warm-up; cosine decay after.", Group = OptimGroup)]
        public double WarmupRatio { get; set; } = 0.03;

        [ConfigKey("max_norm", "Global gradient-norm clip (0: off).", Group = OptimGroup)]
        public double MaxNorm { get; set; } = 1.0;

        [ConfigKey("seed", "Seed for initialisation, shuffling and synthetic data.", Group = OptimGroup)]
        public int Seed { get; set; } = 42;

        [ConfigKey("dtype", "float32, or bfloat16 (CUDA; float32 master weights and moments).", Group = OptimGroup)]
        public TrainingDType DType { get; set; } = TrainingDType.BFloat16;

        [ConfigKey("activation_checkpointing", "Recompute layers in backward instead of keeping their activations: true for every layer, N for the first N (the rest keep theirs: faster, more memory), auto for as few as the GPU's memory (or gpu_memory_budget_gib) allows (every layer on CPU and with zero_stage 3), false for none.", Group = OptimGroup)]
        public LayerCount ActivationCheckpointing { get; set; } = LayerCount.All;

        [ConfigKey("recompute_attention", "Of the layers activation_checkpointing recomputes, those that also rerun attention in backward: true for all, N for the first N, false for none (the rest keep attention from the forward: at long sequences most of the recompute's time, for about 4 x hidden_size x 2 bytes per token per layer, or hidden_size x 2 where cuDNN's output alone is kept: bf16 on CUDA with fused_kernels, one SP rank, no window, one document per row), auto (default) for as few as the GPU's memory (or gpu_memory_budget_gib) allows when activation_checkpointing is auto, else all.", Group = OptimGroup)]
        public LayerCount RecomputeAttention { get; set; } = LayerCount.Auto;

        [ConfigKey("fused_kernels", "Fused CUDA kernels (AdamW, the gradient norm, RMSNorm, SwiGLU, rotary embedding, cross-entropy) compiled at run time with NVRTC instead of the TorchSharp ops: auto (default) uses them on CUDA when libnvrtc loads, and says in one line why not (the CPU never uses them); true requires them (refused on the CPU or without NVRTC); false never. xtuner check-kernels checks each against the TorchSharp ops on a GPU.", Group = OptimGroup)]
        public FusedKernelsMode FusedKernels { get; set; } = FusedKernelsMode.Auto;

        // memory
        [ConfigKey("offload_optimizer", "Keep this rank's float32 master weights and AdamW moments (its ZeRO shard) in pinned host memory and update them on the CPU (DeepSpeed's offload_optimizer).", Group = MemoryGroup)]
        public bool OffloadOptimizer { get; set; }

        [ConfigKey("offload_activations", "Keep checkpointed layer inputs in pinned host memory between forward and recompute (needs activation_checkpointing): true for every layer, N for the first N, auto for as many as the host holds beside the optimizer states.", Group = MemoryGroup)]
        public LayerCount OffloadActivations { get; set; }

        [ConfigKey("cast_weights_per_layer", "Keep no whole copy of the weights in the compute dtype: each layer's bf16 weights are cast from the float32 master just before its forward and again before its recompute, and freed after (2 bytes per parameter less: 12.6 GiB at 7B; the casts read the master twice per step). auto (default) on CUDA wherever this rank holds the whole master on its device (not with offload_optimizer, zero_stage 3, or zero_stage 1-2 over several ranks; on the CPU the casts cost more than the memory is worth); true requires the whole master on the device; false keeps the copy. Same numbers either way.", Group = MemoryGroup)]
        public WeightCastMode CastWeightsPerLayer { get; set; } = WeightCastMode.Auto;

        /// <summary>
        /// Whether ranks of a <paramref name="worldSize"/>-rank world cast each layer's weights from the float32 master
        /// (cast_weights_per_layer resolved; auto only on CUDA): the master must be whole on the device, which ZeRO-3,
        /// sharded states and offload_optimizer rule out.
        /// </summary>
        public bool CastsWeightsPerLayer(int worldSize) =>
            (CastWeightsPerLayer == WeightCastMode.On || CastWeightsPerLayer == WeightCastMode.Auto && Device == DeviceKind.Cuda) && WeightCastApplies(worldSize);

        /// <summary>This rank holds the whole float32 master on its device, as cast_weights_per_layer needs.</summary>
        public bool WeightCastApplies(int worldSize) => !OffloadOptimizer && (ZeroStage == 0 || ZeroStage < 3 && worldSize == 1);

        /// <summary>Why cast_weights_per_layer: true cannot be had on <paramref name="worldSize"/> ranks, and what to change; null where it can.</summary>
        public string? WeightCastRefusal(int worldSize) => CastWeightsPerLayer != WeightCastMode.On || WeightCastApplies(worldSize) ? null
            : OffloadOptimizer
                ? "cast_weights_per_layer: true casts each layer's weights from the float32 master on the device, which offload_optimizer moves to host memory: set cast_weights_per_layer: auto or false, or remove offload_optimizer."
                : $"cast_weights_per_layer: true casts each layer's weights from the whole float32 master, which zero_stage {ZeroStage} over {worldSize} ranks shards (zero_stage 3 gathers each layer's weights itself): set cast_weights_per_layer: auto or false, or zero_stage 0.";

        [ConfigKey("gpu_memory_budget_gib", "GPU memory per rank, in GiB, that activation_checkpointing: auto plans within: it keeps layers un-recomputed only while the planner's predicted peak (what xtuner benchmark reports) stays 0.25 GiB inside it (the planner's budget_margin_gib), e.g. another framework's peak to compare at equal memory (default: the GPU's free memory when the run starts, less 1.5 GiB of headroom). A plan, not a limit the allocator enforces.", Group = MemoryGroup)]
        public double? GpuMemoryBudgetGib { get; set; }

        [ConfigKey("mlp_tiles", "Run each MLP over this many sequence tiles, forward and backward, so no [tokens, intermediate_size] tensor exists whole (exact); auto: as many as keep each under 1 GiB.", Group = MemoryGroup)]
        public AutoCount MlpTiles { get; set; } = AutoCount.Auto;

        // output
        [ConfigKey("work_dir", "Where logs, metrics, checkpoints and the final model go (default work_dirs/<name>).", Group = OutputGroup)]
        public string? WorkDir { get; set; }

        [ConfigKey("save_steps", "Checkpoint every this many steps (0: only at the end).", Group = OutputGroup)]
        public int SaveSteps { get; set; } = 500;

        [ConfigKey("save_total_limit", "Checkpoints kept (-1: all).", Group = OutputGroup)]
        public int SaveTotalLimit { get; set; } = 2;

        [ConfigKey("logging_interval", "Steps between console lines (metrics.jsonl gets every step).", Group = OutputGroup)]
        public int LoggingInterval { get; set; } = 10;

        // launcher
        [ConfigKey("launcher", "local or slurm.", Group = LauncherGroup)]
        public LauncherKind Launcher { get; set; } = LauncherKind.Local;

        [ConfigKey("slurm", "sbatch settings for launcher: slurm.", Group = LauncherGroup)]
        public SlurmSettings Slurm { get; set; } = new SlurmSettings();

        /// <summary>The YAML file this config was read from, if any (relative paths resolve against its folder).</summary>
        public string? SourcePath { get; set; }

        /// <summary>Packed documents are kept apart (use_varlen_attn, which defaults to pack_to_max_length).</summary>
        public bool IsolatesDocuments => UseVarlenAttn ?? PackToMaxLength;

        /// <summary>Ranks in all: nodes x gpus_per_node.</summary>
        public int WorldSize => Nodes * GpusPerNode;

        /// <summary>Ranks that each draw their own batches: world / sequence_parallel_size.</summary>
        public int DataParallelSize => SequenceParallelSize > 0 ? WorldSize / SequenceParallelSize : 0;

        /// <summary>What to show as the model: the checkpoint, or the random-init architecture.</summary>
        public string ModelName =>
            PretrainedModelNameOrPath ?? (Model.Architecture is ModelArchitecture a ? $"random {a.ToString().ToLowerInvariant()}" : "(none)");

        /// <summary>A deep copy (configs flow through pipelines; a transform never changes its input).</summary>
        public XTunerConfig Clone()
        {
            var copy = ConfigSchema.Root.Clone(this);
            copy.SourcePath = SourcePath;
            return copy;
        }

        public override string ToString() => Name ?? ModelName;
    }
}
