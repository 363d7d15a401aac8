using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Core.Catalogue;
using XTuner.Core.Models;

namespace XTuner.Core.Configuration
{
    /// <summary>
    /// Checks a config before anything starts: sizes, the sequence-parallel layout against the model's heads and the
    /// world size, sequence length against the model's positions, and that files exist. Every message says what to change.
    /// </summary>
    public static class ConfigValidator
    {
        /// <summary>All findings (errors and warnings). Relative paths resolve against <paramref name="baseDirectory"/>.</summary>
        public static IReadOnlyList<ConfigFinding> Validate(XTunerConfig config, string baseDirectory, bool checkPaths = true)
        {
            var f = new List<ConfigFinding>();
            CheckSizes(config, f);
            var model = ResolvedModel.Resolve(config, baseDirectory);
            f.AddRange(model.Findings);
            CheckModel(config, model.Spec, f);
            CheckSequenceParallel(config, model.Spec, f);
            CheckData(config, model, baseDirectory, checkPaths, f);
            if (config.Device == DeviceKind.Cpu && config.DType == TrainingDType.BFloat16)
                f.Add(Warn("dtype", "bfloat16 on CPU is slow and only approximates float32; use dtype: float32 on CPU."));
            if (config.Device == DeviceKind.Cpu && config.FusedKernels == FusedKernelsMode.On)
                f.Add(Error("fused_kernels", "fused_kernels: true needs device: cuda (the kernels are CUDA kernels); set fused_kernels: auto or false to train on the CPU.",
                    ErrorIds.FusedKernelsUnavailable));
            if (config.Device == DeviceKind.Cpu && config.RanksPerGpu > 1)
                f.Add(Warn("ranks_per_gpu", "ranks_per_gpu has no effect on CPU, where every rank is a process of its own anyway."));
            return f;
        }

        /// <summary>Throws <see cref="XTunerConfigException"/> when there are errors; returns the warnings.</summary>
        public static IReadOnlyList<ConfigFinding> ThrowIfInvalid(XTunerConfig config, string baseDirectory, bool checkPaths = true)
        {
            var findings = Validate(config, baseDirectory, checkPaths);
            var errors = findings.Where(x => x.Severity == FindingSeverity.Error).ToList();
            if (errors.Count > 0) throw new XTunerConfigException(errors);
            return findings;
        }

        /// <summary>The sequence-parallel checks alone (Set-SequenceParallel), for a proposed size.</summary>
        public static IReadOnlyList<ConfigFinding> ValidateSequenceParallel(XTunerConfig config, int size, string baseDirectory)
        {
            var probe = config.Clone();
            probe.SequenceParallelSize = size;
            var f = new List<ConfigFinding>();
            if (size < 1)
            {
                f.Add(Error("sequence_parallel_size", $"sequence_parallel_size must be 1 or more, not {size}.", ErrorIds.InvalidSequenceParallelSize));
                return f;
            }
            var model = ResolvedModel.Resolve(probe, baseDirectory);
            CheckSequenceParallel(probe, model.Spec, f);
            return f;
        }

        private static void CheckSizes(XTunerConfig c, List<ConfigFinding> f)
        {
            Positive(f, "max_length", c.MaxLength);
            Positive(f, "batch_size", c.BatchSize);
            Positive(f, "accumulative_counts", c.AccumulativeCounts);
            Positive(f, "nodes", c.Nodes);
            Positive(f, "gpus_per_node", c.GpusPerNode);
            Positive(f, "ranks_per_gpu", c.RanksPerGpu);
            Positive(f, "logging_interval", c.LoggingInterval);
            if (c.SequenceParallelSize < 1)
                f.Add(Error("sequence_parallel_size", $"sequence_parallel_size must be 1 or more, not {c.SequenceParallelSize}.", ErrorIds.InvalidSequenceParallelSize));
            if (c.MaxSteps is int steps && steps < 1) f.Add(Error("max_steps", $"max_steps must be 1 or more (or removed to use max_epochs), not {steps}."));
            if (c.MaxEpochs is int epochs && epochs < 1) f.Add(Error("max_epochs", $"max_epochs must be 1 or more, not {epochs}."));
            if (c.MaxSteps == null && c.MaxEpochs == null) f.Add(Error("max_steps", "Set max_steps or max_epochs: training needs an end."));
            if (c.GpuMemoryBudgetGib is double budget && !(budget > 0 && Finite(budget)))
                f.Add(Error("gpu_memory_budget_gib", $"gpu_memory_budget_gib must be a number of GiB above 0 (e.g. 37), or removed to plan in the GPU's free memory; not {ConfigValues.FormatDouble(budget)}."));
            if (c.SaveSteps < 0) f.Add(Error("save_steps", $"save_steps must be 0 (only at the end) or more, not {c.SaveSteps}."));
            if (c.SaveTotalLimit == 0 || c.SaveTotalLimit < -1) f.Add(Error("save_total_limit", $"save_total_limit must be -1 (keep all) or 1 or more, not {c.SaveTotalLimit}."));
            // Written as "not in range" so that NaN, which every comparison rejects, fails them too.
            if (!(c.Lr > 0 && Finite(c.Lr))) f.Add(Error("lr", $"lr must be a number above 0, not {ConfigValues.FormatDouble(c.Lr)}."));
            if (c.Betas == null || c.Betas.Count != 2 || c.Betas.Any(b => !(b >= 0 && b < 1)))
                f.Add(Error("betas", "betas must be two numbers in [0, 1), e.g. [0.9, 0.95]."));
            if (!(c.WeightDecay >= 0 && Finite(c.WeightDecay))) f.Add(Error("weight_decay", "weight_decay must be a number, 0 or more."));
            if (!(c.WarmupRatio >= 0 && c.WarmupRatio < 1)) f.Add(Error("warmup_ratio", $"warmup_ratio must be in [0, 1), not {ConfigValues.FormatDouble(c.WarmupRatio)}."));
            if (!(c.MaxNorm >= 0 && Finite(c.MaxNorm))) f.Add(Error("max_norm", "max_norm must be a number, 0 (no clipping) or more."));
            if (c.ZeroStage < 0 || c.ZeroStage > 3) f.Add(Error("zero_stage", $"zero_stage must be 0, 1, 2 or 3, not {c.ZeroStage}."));
            if (c.ZeroStage == 3 && !(c.ActivationCheckpointing.IsAll || c.ActivationCheckpointing.IsAuto))
                f.Add(Error("zero_stage", "zero_stage 3 needs activation_checkpointing: true or auto (each layer's parameters are gathered again for its recompute); or use zero_stage 2."));
            if (c.OffloadActivations.IsAny && !c.ActivationCheckpointing.IsAny)
                f.Add(Error("offload_activations", "offload_activations moves the inputs of checkpointed layers to host memory: it needs activation_checkpointing: true."));
            if (!(c.RecomputeAttention.IsAll || c.RecomputeAttention.IsAuto) && !c.ActivationCheckpointing.IsAny)
                f.Add(Error("recompute_attention", $"recompute_attention {c.RecomputeAttention} chooses which recomputed layers keep attention's output instead of rerunning it: it needs activation_checkpointing: true, N or auto (with false every layer keeps everything already)."));
            if (c.WeightCastRefusal(c.WorldSize) is string refusal) f.Add(Error("cast_weights_per_layer", refusal));
        }

        private static void CheckModel(XTunerConfig c, ModelSpec spec, List<ConfigFinding> f)
        {
            CheckDimensions(c, spec, f);
            if (c.RandomInit)
            {
                var missing = new (string key, object? value)[]
                {
                    ("architecture", spec.Architecture), ("hidden_size", spec.HiddenSize), ("intermediate_size", spec.IntermediateSize),
                    ("num_hidden_layers", spec.NumHiddenLayers), ("num_attention_heads", spec.NumAttentionHeads),
                    ("vocab_size", spec.VocabSize), ("max_position_embeddings", spec.MaxPositionEmbeddings),
                }.Where(x => x.value == null).Select(x => "model." + x.key).ToList();
                if (missing.Count > 0)
                    f.Add(Error("model", $"random_init needs the architecture; missing: {string.Join(", ", missing)}."));
            }
            if (spec.SlidingWindow is int window && window < 1)
                f.Add(Error("model.sliding_window", $"model.sliding_window must be 1 or more, not {window}."));
            if ((spec.SlidingWindow != null || spec.UseSlidingWindow == true) && !spec.Family.HasSlidingWindow)
                f.Add(Error("model.sliding_window",
                    $"{spec.Family.ModelType} has no sliding-window attention, so model.sliding_window would be ignored: remove it, or use architecture mistral or qwen2."));
            if (spec.UseSlidingWindow == true && spec.SlidingWindow == null)
                f.Add(Error("model.use_sliding_window", "model.use_sliding_window needs model.sliding_window (the window's size)."));
            if (spec.NumAttentionHeads is int hq && spec.NumKeyValueHeads is int hkv && (hkv < 1 || hq % hkv != 0))
                f.Add(Error("model.num_key_value_heads", $"num_attention_heads {hq} must be a multiple of num_key_value_heads {hkv}."));
            if (spec.HiddenSize is int h && spec.NumAttentionHeads is int n && spec.HeadDim == null && n > 0 && h % n != 0)
                f.Add(Error("model.num_attention_heads", $"hidden_size {h} is not divisible by num_attention_heads {n}; set model.head_dim."));
            else if (spec.EffectiveHeadDim is int d && d > 0 && d % 2 != 0)
                f.Add(Error("model.head_dim", $"The per-head width is {d}; rotary embeddings turn pairs of dimensions, so it must be even."));
            if (spec.SupportedPositions is long positions && positions > 0 && c.MaxLength > positions)
            {
                var factor = (int)Math.Ceiling(c.MaxLength / (double)(spec.MaxPositionEmbeddings ?? 1));
                f.Add(Error("max_length",
                    $"max_length {c.MaxLength} is longer than the model's {positions} positions. Lower max_length, or extend the positions with model.rope_scaling (e.g. rope_type: linear, factor: {factor}).",
                    ErrorIds.SequenceTooLong));
            }
        }

        /// <summary>
        /// Every size of the architecture at least 1 and every number a number, whether the config or the checkpoint's
        /// config.json gave it: a zero divides by zero, or trains a model with nothing in it.
        /// </summary>
        private static void CheckDimensions(XTunerConfig c, ModelSpec spec, List<ConfigFinding> f)
        {
            string Source(object? own) => own != null || c.RandomInit ? "" : " (from the checkpoint's config.json)";
            var sizes = new (string Key, int? Value, int? Own)[]
            {
                ("hidden_size", spec.HiddenSize, c.Model.HiddenSize), ("intermediate_size", spec.IntermediateSize, c.Model.IntermediateSize),
                ("num_hidden_layers", spec.NumHiddenLayers, c.Model.NumHiddenLayers), ("num_attention_heads", spec.NumAttentionHeads, c.Model.NumAttentionHeads),
                ("num_key_value_heads", spec.NumKeyValueHeads, c.Model.NumKeyValueHeads), ("head_dim", spec.HeadDim, c.Model.HeadDim),
                ("vocab_size", spec.VocabSize, c.Model.VocabSize), ("max_position_embeddings", spec.MaxPositionEmbeddings, c.Model.MaxPositionEmbeddings),
            };
            foreach (var (key, value, own) in sizes)
                if (value is int v && v < 1) f.Add(Error("model." + key, $"model.{key} must be 1 or more, not {v}{Source(own)}."));
            var numbers = new (string Key, double? Value, double? Own)[]
            {
                ("rope_theta", spec.RopeTheta, c.Model.RopeTheta), ("norm_eps", spec.NormEps, c.Model.NormEps), ("logit_scale", spec.LogitScale, c.Model.LogitScale),
            };
            foreach (var (key, value, own) in numbers)
                if (value is double x && !(x > 0 && Finite(x)))
                    f.Add(Error("model." + key, $"model.{key} must be a number above 0, not {ConfigValues.FormatDouble(x)}{Source(own)}."));
            if (spec.RopeScaling is RopeScaling r && r.RopeType != RopeType.Default)
            {
                var type = ConfigValues.FormatEnum(r.RopeType);
                if (!(r.Factor is double factor && factor >= 1 && Finite(factor)))
                    f.Add(Error("model.rope_scaling.factor", $"rope_scaling of type {type} needs a factor of 1 or more (how many times the original context), not {(r.Factor is double v ? ConfigValues.FormatDouble(v) : "none")}."));
                if (r.OriginalMaxPositionEmbeddings is int original && original < 1)
                    f.Add(Error("model.rope_scaling.original_max_position_embeddings", $"rope_scaling.original_max_position_embeddings must be 1 or more, not {original}."));
                foreach (var (key, value) in new (string, double?)[] { ("low_freq_factor", r.LowFreqFactor), ("high_freq_factor", r.HighFreqFactor),
                             ("beta_fast", r.BetaFast), ("beta_slow", r.BetaSlow), ("attention_factor", r.AttentionFactor) })
                    if (value is double x && !(x > 0 && Finite(x)))
                        f.Add(Error("model.rope_scaling." + key, $"rope_scaling.{key} must be a number above 0, not {ConfigValues.FormatDouble(x)}."));
                if (r.LowFreqFactor is double low && r.HighFreqFactor is double high && !(high > low))
                    f.Add(Error("model.rope_scaling.high_freq_factor", $"rope_scaling.high_freq_factor ({ConfigValues.FormatDouble(high)}) must be above low_freq_factor ({ConfigValues.FormatDouble(low)})."));
                if (r.BetaFast is double fast && r.BetaSlow is double slow && !(fast > slow))
                    f.Add(Error("model.rope_scaling.beta_fast", $"rope_scaling.beta_fast ({ConfigValues.FormatDouble(fast)}) must be above beta_slow ({ConfigValues.FormatDouble(slow)})."));
            }
        }

        private static bool Finite(double x) => !double.IsNaN(x) && !double.IsInfinity(x);

        private static void CheckSequenceParallel(XTunerConfig c, ModelSpec spec, List<ConfigFinding> f)
        {
            int sp = c.SequenceParallelSize;
            if (sp < 1) return;
            if (c.WorldSize > 0 && c.WorldSize % sp != 0)
                f.Add(Error("sequence_parallel_size",
                    $"sequence_parallel_size {sp} does not divide the world size {c.WorldSize} (nodes {c.Nodes} x gpus_per_node {c.GpusPerNode}); use a divisor of {c.WorldSize}: {string.Join(", ", Divisors(c.WorldSize))}.",
                    ErrorIds.InvalidSequenceParallelSize));
            if (!(spec.NumAttentionHeads is int heads) || heads % sp == 0) return;
            int padded = (heads + sp - 1) / sp * sp;
            if (c.SequenceParallelHeadPadding && sp <= heads)
            {
                f.Add(Warn("sequence_parallel_size",
                    $"{heads} attention heads are padded to {padded} for sequence_parallel_size {sp} ({100.0 * (padded - heads) / heads:0.#}% more attention work)."));
                return;
            }
            f.Add(Error("sequence_parallel_size",
                $"sequence_parallel_size {sp} does not divide the model's {heads} attention heads. Use one of {string.Join(", ", Divisors(heads))}" +
                (sp <= heads ? $", or set sequence_parallel_head_padding: true to pad to {padded} heads ({100.0 * (padded - heads) / heads:0.#}% more attention work)." : "."),
                ErrorIds.InvalidSequenceParallelSize));
        }

        private static void CheckData(XTunerConfig c, ResolvedModel model, string baseDirectory, bool checkPaths, List<ConfigFinding> f)
        {
            if (c.DatasetFormat == DatasetFormat.Synthetic) return;
            if (c.DataFiles.Count == 0)
                f.Add(Error("data_files", "No data: set data_files to JSONL files (or builtin:alpaca-sample), or dataset_format: synthetic for benchmarks."));
            if (checkPaths)
            {
                foreach (var file in c.DataFiles)
                {
                    if (BuiltinData.IsBuiltin(file))
                    {
                        if (!BuiltinData.Exists(file))
                            f.Add(Error("data_files", $"No built-in dataset '{file}'; built-in: {string.Join(", ", BuiltinData.Names.Select(n => BuiltinData.Scheme + n))}.", ErrorIds.PathNotFound));
                    }
                    else if (!File.Exists(PathUtil.Resolve(file, baseDirectory)))
                    {
                        f.Add(Error("data_files", $"Data file '{PathUtil.Resolve(file, baseDirectory)}' does not exist.", ErrorIds.PathNotFound));
                    }
                }
            }
            if (c.DatasetFormat == DatasetFormat.Tokenized) return;
            if (checkPaths && model.Spec.VocabSize is int vocab && vocab > 0 &&
                TokenizerVocabulary.Size(c.Tokenizer == null ? null : ResolveTokenizer(c.Tokenizer, baseDirectory), model.CheckpointDirectory) is int size && size > vocab)
                f.Add(Error("tokenizer", TokenizerVocabulary.Mismatch(c.Tokenizer ?? model.CheckpointDirectory!, size, vocab), ErrorIds.ModelMismatch));
            var tok = c.Tokenizer;
            if (tok == null)
            {
                if (model.CheckpointDirectory != null && !HasTokenizer(model.CheckpointDirectory))
                    f.Add(Error("tokenizer", $"The checkpoint '{model.CheckpointDirectory}' has no tokenizer.json or tokenizer.model; set tokenizer.", ErrorIds.PathNotFound));
                else if (model.CheckpointDirectory == null && c.RandomInit && string.IsNullOrEmpty(c.PretrainedModelNameOrPath))
                    f.Add(Error("tokenizer", $"dataset_format {ConfigValues.FormatEnum(c.DatasetFormat)} needs a tokenizer: set tokenizer (a folder, a file, or 'byte')."));
            }
            else if (checkPaths && !string.Equals(tok, "byte", StringComparison.OrdinalIgnoreCase))
            {
                var path = PathUtil.Resolve(tok, baseDirectory);
                if (!File.Exists(path) && !(Directory.Exists(path) && HasTokenizer(path)))
                    f.Add(Error("tokenizer", $"Tokenizer '{path}' is neither a tokenizer.json/tokenizer.model file nor a folder holding one.", ErrorIds.PathNotFound));
            }
        }

        private static string ResolveTokenizer(string tokenizer, string baseDirectory) =>
            string.Equals(tokenizer, "byte", StringComparison.OrdinalIgnoreCase) ? tokenizer : PathUtil.Resolve(tokenizer, baseDirectory);

        private static bool HasTokenizer(string dir) =>
            File.Exists(Path.Combine(dir, "tokenizer.json")) || File.Exists(Path.Combine(dir, "tokenizer.model"));

        internal static IEnumerable<int> Divisors(int n) => Enumerable.Range(1, Math.Max(1, n)).Where(d => n % d == 0);

        private static void Positive(List<ConfigFinding> f, string key, int value)
        {
            if (value < 1) f.Add(Error(key, $"{key} must be 1 or more, not {value}."));
        }

        private static ConfigFinding Error(string key, string message, string id = ErrorIds.InvalidConfigValue) =>
            new ConfigFinding(FindingSeverity.Error, key, message, id);

        private static ConfigFinding Warn(string key, string message) =>
            new ConfigFinding(FindingSeverity.Warning, key, message, ErrorIds.InvalidConfig);
    }
}
