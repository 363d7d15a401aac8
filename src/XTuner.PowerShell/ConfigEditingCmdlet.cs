using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using XTuner.Core.Configuration;

namespace XTuner.PowerShell
{
    /// <summary>
    /// The typed parameters New-XTunerConfig and Set-XTunerConfig share. Each maps to one config key; only the
    /// parameters the caller binds are applied, in the order of <see cref="KeyOf"/>, then -Option.
    /// </summary>
    public abstract class ConfigEditingCmdlet : XTunerCmdlet
    {
        /// <summary>Short name of the config; also the default work_dir (work_dirs/NAME) and SLURM job name.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Name { get; set; }

        /// <summary>One line describing the config.</summary>
        [Parameter]
        public string? Description { get; set; }

        /// <summary>Hugging Face checkpoint to train: a folder, or an id found in the Hugging Face cache. Replaces the template's architecture (its rope scaling is kept) and tokenizer.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Model { get; set; }

        /// <summary>Train a randomly initialised model of the config's architecture instead of loading weights.</summary>
        [Parameter]
        public SwitchParameter RandomInit { get; set; }

        /// <summary>tokenizer.json or tokenizer.model (or a folder holding one), or 'byte' for the byte-level tokenizer.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Tokenizer { get; set; }

        /// <summary>JSONL data files (data_files). Relative paths resolve against the current location; builtin:NAME names a bundled sample.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? DataPath { get; set; }

        /// <summary>How the data lines are read: Text, Alpaca, Chat, Tokenized or Synthetic.</summary>
        [Parameter]
        public DatasetFormat DatasetFormat { get; set; }

        /// <summary>Prompt template for Alpaca and Chat data (default: the model family's own).</summary>
        [Parameter]
        public string? PromptTemplate { get; set; }

        /// <summary>Tokens per (packed) sequence (max_length).</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int MaxLength { get; set; }

        /// <summary>Pack samples into sequences of MaxLength (pack_to_max_length); -PackToMaxLength:$false turns it off.</summary>
        [Parameter]
        public SwitchParameter PackToMaxLength { get; set; }

        /// <summary>Ranks that split each sequence (sequence_parallel_size). Set-SequenceParallel checks it against the model.</summary>
        [Parameter]
        public int SequenceParallelSize { get; set; }

        /// <summary>Pad attention heads when SequenceParallelSize does not divide them (exact; costs extra attention work).</summary>
        [Parameter]
        public SwitchParameter SequenceParallelHeadPadding { get; set; }

        /// <summary>ZeRO stage: 0 off, 1 optimizer states, 2 plus gradients, 3 plus parameters.</summary>
        [Parameter]
        [ValidateRange(0, 3)]
        public int ZeroStage { get; set; }

        /// <summary>Machines to train on.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int Nodes { get; set; }

        /// <summary>Ranks per machine: GPUs on CUDA, processes on CPU.</summary>
        [Parameter]
        [Alias("NProcPerNode")]
        [ValidateRange(1, int.MaxValue)]
        public int GpusPerNode { get; set; }

        /// <summary>Cpu or Cuda.</summary>
        [Parameter]
        public DeviceKind Device { get; set; }

        /// <summary>Sequences per rank per micro-batch (batch_size).</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int BatchSize { get; set; }

        /// <summary>Micro-batches per optimizer step (accumulative_counts).</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int AccumulativeCounts { get; set; }

        /// <summary>Optimizer steps to train (max_steps); overrides MaxEpochs.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int MaxSteps { get; set; }

        /// <summary>Passes over the data (max_epochs).</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int MaxEpochs { get; set; }

        /// <summary>Peak learning rate (lr).</summary>
        [Parameter]
        [Alias("Lr")]
        public double LearningRate { get; set; }

        /// <summary>AdamW weight decay.</summary>
        [Parameter]
        public double WeightDecay { get; set; }

        /// <summary>Fraction of steps spent warming up the learning rate.</summary>
        [Parameter]
        public double WarmupRatio { get; set; }

        /// <summary>Gradient-norm clipping threshold (0: off).</summary>
        [Parameter]
        public double MaxNorm { get; set; }

        /// <summary>Seed for initialisation, shuffling and synthetic data.</summary>
        [Parameter]
        public int Seed { get; set; }

        /// <summary>Float32 or BFloat16.</summary>
        [Parameter]
        [Alias("Precision")]
        public TrainingDType DType { get; set; }

        /// <summary>Recompute each layer in the backward pass instead of storing its activations.</summary>
        [Parameter]
        public SwitchParameter ActivationCheckpointing { get; set; }

        /// <summary>Keep this rank's float32 master weights and AdamW moments in pinned host memory and update them on the CPU (offload_optimizer).</summary>
        [Parameter]
        public SwitchParameter OffloadOptimizer { get; set; }

        /// <summary>Keep checkpointed layer inputs in pinned host memory between forward and recompute (offload_activations): true, false, a layer count, or auto.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? OffloadActivations { get; set; }

        /// <summary>Sequence tiles each MLP runs over, so no [tokens, intermediate_size] tensor exists whole (mlp_tiles): a count, or auto.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? MlpTiles { get; set; }

        /// <summary>Fused CUDA kernels compiled at run time with NVRTC (fused_kernels): auto (the default: on CUDA when NVRTC loads), true (required), or false (never).</summary>
        [Parameter]
        [ValidateSet("auto", "true", "false")]
        public string? FusedKernels { get; set; }

        /// <summary>Cast each layer's bf16 weights from the float32 master as it runs instead of keeping a whole copy (cast_weights_per_layer; 2 bytes per parameter less): auto (the default: on CUDA where the master is whole on the device), true (required), or false (never).</summary>
        [Parameter]
        [ValidateSet("auto", "true", "false")]
        public string? CastWeightsPerLayer { get; set; }

        /// <summary>Ranks that share one GPU (ranks_per_gpu): above 1, more ranks than GPUs, with collectives through host memory.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int RanksPerGpu { get; set; }

        /// <summary>Folder for logs, metrics, checkpoints and the final model.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? WorkDir { get; set; }

        /// <summary>Checkpoint every this many steps (0: only at the end).</summary>
        [Parameter]
        [ValidateRange(0, int.MaxValue)]
        public int SaveSteps { get; set; }

        /// <summary>Checkpoints to keep (-1: all).</summary>
        [Parameter]
        public int SaveTotalLimit { get; set; }

        /// <summary>Steps between console lines.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int LoggingInterval { get; set; }

        /// <summary>Local or Slurm.</summary>
        [Parameter]
        public LauncherKind Launcher { get; set; }

        /// <summary>Any other keys, by their YAML names (dotted for nested ones): @{ 'lr' = 2e-5; 'slurm.partition' = 'gpu' }.</summary>
        [Parameter]
        public Hashtable? Option { get; set; }

        /// <summary>Bound parameter name to config key, in the order they are applied.</summary>
        private static readonly (string Parameter, string Key)[] KeyOf =
        {
            ("Name", "name"), ("Description", "description"), ("RandomInit", "random_init"), ("Tokenizer", "tokenizer"),
            ("DataPath", "data_files"), ("DatasetFormat", "dataset_format"), ("PromptTemplate", "prompt_template"),
            ("MaxLength", "max_length"), ("PackToMaxLength", "pack_to_max_length"),
            ("SequenceParallelSize", "sequence_parallel_size"), ("SequenceParallelHeadPadding", "sequence_parallel_head_padding"),
            ("ZeroStage", "zero_stage"), ("Nodes", "nodes"), ("GpusPerNode", "gpus_per_node"), ("Device", "device"),
            ("BatchSize", "batch_size"), ("AccumulativeCounts", "accumulative_counts"), ("MaxSteps", "max_steps"),
            ("MaxEpochs", "max_epochs"), ("LearningRate", "lr"), ("WeightDecay", "weight_decay"), ("WarmupRatio", "warmup_ratio"),
            ("MaxNorm", "max_norm"), ("Seed", "seed"), ("DType", "dtype"), ("ActivationCheckpointing", "activation_checkpointing"),
            ("OffloadOptimizer", "offload_optimizer"), ("OffloadActivations", "offload_activations"), ("MlpTiles", "mlp_tiles"),
            ("FusedKernels", "fused_kernels"), ("CastWeightsPerLayer", "cast_weights_per_layer"),
            ("RanksPerGpu", "ranks_per_gpu"),
            ("WorkDir", "work_dir"), ("SaveSteps", "save_steps"), ("SaveTotalLimit", "save_total_limit"),
            ("LoggingInterval", "logging_interval"), ("Launcher", "launcher"),
        };

        /// <summary>Applies the bound parameters to <paramref name="config"/> (a copy the caller owns).</summary>
        protected void ApplyEdits(XTunerConfig config)
        {
            var bound = MyInvocation.BoundParameters;
            if (bound.ContainsKey(nameof(Model)))
                ConfigEdits.UseCheckpoint(config, ResolveIfLocal(Model!));
            foreach (var (parameter, key) in KeyOf)
            {
                if (!bound.TryGetValue(parameter, out var value)) continue;
                ConfigYaml.SetValue(config, key, Normalise(parameter, value), "-" + parameter);
            }
            if (Option != null)
            {
                foreach (DictionaryEntry entry in Option)
                {
                    var value = entry.Value is PSObject pso ? pso.BaseObject : entry.Value;
                    ConfigYaml.SetValue(config, entry.Key.ToString(), value);
                }
            }
        }

        private object? Normalise(string parameter, object? value)
        {
            switch (value)
            {
                case SwitchParameter s:
                    return s.IsPresent;
                case string path when parameter == nameof(WorkDir) || (parameter == nameof(Tokenizer) && path != "byte"):
                    return ResolvePath(path);
                case string[] paths when parameter == nameof(DataPath):
                    var resolved = new List<string>();
                    foreach (var p in paths)
                        resolved.Add(Core.Catalogue.BuiltinData.IsBuiltin(p) ? p : ResolvePath(p));
                    return resolved;
                default:
                    return value;
            }
        }

        /// <summary>A checkpoint given as a path becomes absolute; a hub id stays as it is.</summary>
        private string ResolveIfLocal(string model)
        {
            var candidate = ResolvePath(model);
            return System.IO.Directory.Exists(candidate) || Core.Models.HfCheckpointLocator.LooksLikePath(model) ? candidate : model;
        }
    }
}
