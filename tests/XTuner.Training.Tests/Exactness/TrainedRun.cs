using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TorchSharp;
using XTuner.Core.Runs;
using XTuner.Training.IO;
using XTuner.Training.Models.Attention;
using XTuner.Training.Tests.Distributed;
using Xunit.Sdk;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Exactness
{
    /// <summary>The knobs the exactness tests turn on a tiny float32 Llama trained for a few steps.</summary>
    public sealed record RunShape(int World = 1, int SequenceParallel = 1, int BatchSize = 1, int Accumulation = 1,
        int MaxLength = 128, int Heads = 8, int KeyValueHeads = 2, bool HeadPadding = false, bool Checkpointing = false,
        int ZeroStage = 0, int Steps = 3, int SaveSteps = 0, string Architecture = "llama", int SaveTotalLimit = -1, string? Pretrained = null, string DType = "float32",
        bool OffloadOptimizer = false, string OffloadActivations = "false", string MlpTiles = "1", bool? VarlenAttention = null, int? SlidingWindow = null,
        string? RecomputedLayers = null, string? RecomputeAttention = null, string? CastWeights = null)
    {
        /// <summary>What each family adds to the shared shape (q/k/v biases, q/k norms, logit scale, tied embeddings).</summary>
        private string ArchitectureKeys => Architecture switch
        {
            "qwen2" => "  tie_word_embeddings: true\n" + (SlidingWindow is int w ? $"  use_sliding_window: true\n  sliding_window: {w}\n  max_window_layers: 1\n" : ""),
            "mistral" => SlidingWindow is int w ? $"  sliding_window: {w}\n" : "",
            "cohere" => "  use_qk_norm: true\n  logit_scale: 0.0625\n  tie_word_embeddings: true\n",
            _ => "",
        };

        public string Yaml(string name) => $@"name: {name}
{(Pretrained == null ? "random_init: true" : $"pretrained_model_name_or_path: {Pretrained}")}
model:
  architecture: {Architecture}
{ArchitectureKeys}  hidden_size: {Heads * 8}
  intermediate_size: 128
  num_hidden_layers: 2
  num_attention_heads: {Heads}
  num_key_value_heads: {KeyValueHeads}
  vocab_size: 320
  max_position_embeddings: 4096
  rope_theta: 10000.0
  norm_eps: 1.0e-06
tokenizer: byte
data_files: [builtin:alpaca-sample]
dataset_format: alpaca
max_length: {MaxLength}
pack_to_max_length: true
{(VarlenAttention is bool varlen ? $"use_varlen_attn: {(varlen ? "true" : "false")}\n" : "")}sequence_parallel_size: {SequenceParallel}
sequence_parallel_head_padding: {(HeadPadding ? "true" : "false")}
zero_stage: {ZeroStage}
nodes: 1
gpus_per_node: {World}
device: cpu
dtype: {DType}
batch_size: {BatchSize}
accumulative_counts: {Accumulation}
max_steps: {Steps}
lr: 1.0e-03
betas: [0.9, 0.95]
weight_decay: 0.1
warmup_ratio: 0.0
max_norm: 1.0
seed: 7
activation_checkpointing: {RecomputedLayers ?? (Checkpointing ? "true" : "false")}
{(RecomputeAttention is string ra ? $"recompute_attention: {ra}\n" : "")}offload_optimizer: {(OffloadOptimizer ? "true" : "false")}
offload_activations: {OffloadActivations}
mlp_tiles: {MlpTiles}
{(CastWeights is string cast ? $"cast_weights_per_layer: {cast}\n" : "")}save_steps: {SaveSteps}
save_total_limit: {SaveTotalLimit}
logging_interval: 1
";
    }

    /// <summary>
    /// One real training run: `xtuner train` as a user starts it (its own launcher spawns one process per rank), with
    /// rank 0 dumping every step's reduced gradients and updated parameters (XTUNER_DUMP_DIR).
    /// </summary>
    public sealed class TrainedRun
    {
        private TrainedRun(string workDir, string dumpDir, string output)
        {
            WorkDir = workDir;
            DumpDir = dumpDir;
            Output = output;
            Steps = MetricsFile.Read(workDir);
        }

        public string WorkDir { get; }

        public string DumpDir { get; }

        public string Output { get; }

        public IReadOnlyList<XTunerStep> Steps { get; }

        public static TrainedRun Train(RunShape shape, string? workDir = null, params string[] extraArgs)
        {
            var root = Path.Combine(Path.GetTempPath(), "xtuner-exactness", Guid.NewGuid().ToString("N").Substring(0, 10));
            Directory.CreateDirectory(root);
            var config = Path.Combine(root, "config.yaml");
            File.WriteAllText(config, shape.Yaml("exact"));
            workDir ??= Path.Combine(root, "work");
            var dump = Path.Combine(workDir, "dump");
            var results = RankProcesses.Run(new Dictionary<int, Dictionary<string, string>>
            {
                [0] = new Dictionary<string, string> { ["XTUNER_DUMP_DIR"] = dump },
            }, TimeSpan.FromMinutes(4), new[] { "train", config, "--work-dir", workDir }.Concat(extraArgs).ToArray());
            var result = results[0];
            if (result.ExitCode != 0)
                throw new XunitException($"xtuner train ({shape}) failed with exit code {result.ExitCode}:\n{result.Output}\n{result.Error}");
            return new TrainedRun(workDir, dump, result.Output + result.Error);
        }

        public Dictionary<string, Tensor> Gradients(int step) => Read($"grads-step{step}.safetensors");

        public Dictionary<string, Tensor> Parameters(int step) => Read($"params-step{step}.safetensors");

        private Dictionary<string, Tensor> Read(string file)
        {
            using var f = SafetensorsFile.Open(Path.Combine(DumpDir, file));
            return f.Tensors.Keys.ToDictionary(k => k, k => f.Read(k));
        }

        /// <summary>max |a - b| / max |b| for one tensor.</summary>
        public static double RelativeDifference(Tensor a, Tensor b)
        {
            double scale = b.abs().max().item<float>();
            double diff = (a - b).abs().max().item<float>();
            return scale == 0 ? diff : diff / scale;
        }
    }
}
