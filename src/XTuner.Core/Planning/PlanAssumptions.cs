using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace XTuner.Core.Planning
{
    /// <summary>
    /// Every constant the planner's memory and step-time model uses, by name, each printed with the plan and
    /// overridable (<c>--assume matmul_tflops=700,nvlink_gbps=300</c>, <c>-Assume @{ matmul_tflops = 700 }</c>). The
    /// defaults are calibrated on one NVIDIA H200 with this project's own runs (examples/benchmarks/results) or, where
    /// nothing here measured them (links between GPUs), taken from the datasheet and marked so.
    /// </summary>
    public sealed class PlanAssumptions
    {
        private const string Results = "examples/benchmarks/results";

        private static readonly PlanAssumption[] Defaults =
        {
            new PlanAssumption("matmul_tflops", 782, "TFLOP/s",
                "bf16 matmul through TorchSharp on one H200 (measured, DESIGN.md); the dense layers' 8N FLOPs per token (6N with recompute off)"),
            new PlanAssumption("attention_tflops", 540, "TFLOP/s",
                $"causal flash SDPA forward, recompute and backward at head_dim 128 (9 L h S^2 FLOPs per sequence); fitted to the 7B and 1.1B step times in {Results} (the kernel alone: 571)"),
            new PlanAssumption("attention_head_dim_exponent", 0.25, "",
                $"attention runs at (head_dim/128)^x of attention_tflops: head_dim 64 (the 1.1B shape) at 84%; fitted to {Results}/h200-2026-11-24-tinyllama.jsonl"),
            new PlanAssumption("windowed_attention_efficiency", 0.26, "x the flash attention rate",
                $"a sliding window shorter than the sequence: SDPA with a block mask (not flash) over window-sized query blocks; fitted to the only measurement, the 1.1B shape with a 4096 window at 128k ({Results}/h200-2026-12-03-window.jsonl), so that case is no check of it"),
            new PlanAssumption("elementwise_ps", 76.3, "ps per token x layer x (hidden+intermediate)",
                $"the kernels that are not matmuls (norms, RoPE, SwiGLU, residuals, casts) with recompute; fitted to the step times in {Results}"),
            new PlanAssumption("optimizer_ps_per_parameter", 38.5, "ps",
                $"the device AdamW over one parameter's float32 master and moments; fitted to the step times in {Results}"),
            new PlanAssumption("fused_elementwise_factor", 0.77, "x the elementwise time",
                $"fused_kernels on CUDA (RMSNorm and SwiGLU in one kernel each, forward and backward): the step time they save less the optimizer's, over the elementwise term, at 7B and 1.1B, 8k and 32k ({Results}/h200-2026-12-03-phases.jsonl: 0.72-0.80)"),
            new PlanAssumption("fused_optimizer_factor", 0.40, "x the optimizer time",
                $"fused_kernels on CUDA (AdamW in one pass from the bf16 .grad in place, writing the bf16 weights; the norm's sum of squares read once): the optimizer phase, 0.0171 s at 1.1B against the 0.0424 s of optimizer_ps_per_parameter ({Results}/h200-2026-12-03-grad-in-place.jsonl; 0.0298 s before the change)"),
            new PlanAssumption("host_adamw_gelements_s", 4.29, "G elements/s per node",
                $"the fused SIMD host AdamW of offload_optimizer on 16 cores: 1.07G elements in 0.250 s ({Results}/h200-2026-12-02-offload.jsonl, bench-adamw); shared by a node's ranks"),
            new PlanAssumption("pcie_gbps", 35.5, "GB/s per GPU",
                $"host<->GPU copies of offload (float32 gradients down, bf16 weights up, checkpoints both ways): the 32k offload_optimizer step's 2.71 s optimizer part less its host AdamW ({Results}/h200-2026-12-02-offload.jsonl)"),
            new PlanAssumption("nvlink_gbps", 360, "GB/s per GPU",
                "NCCL bus bandwidth within an 8-GPU H200 node (NVLink 4, 450 GB/s each way, at 80%): datasheet, not measured here"),
            new PlanAssumption("network_gbps", 50, "GB/s per GPU",
                "between nodes: one 400 Gb/s InfiniBand NDR adapter per GPU: datasheet, not measured here"),
            new PlanAssumption("gpus_per_node", 8, "GPUs",
                "GPUs per machine (SP groups and rings within a node use nvlink_gbps, beyond it network_gbps)"),
            new PlanAssumption("context_gib", 0.5, "GiB per GPU",
                $"the CUDA context and libtorch's workspaces; with loss_logits_copies the fixed part of the 7B and 1.1B peaks in {Results}"),
            new PlanAssumption("loss_logits_copies", 1.5, "chunks",
                "float32 logits of one loss chunk (1 GiB at most, Trainer.LossChunkBytes) alive at once: the logits, their softmax gradient, a bf16 copy"),
            new PlanAssumption("layer_working_set_hidden", 31.0, "tokens x hidden x 2 bytes",
                $"what one layer's recompute and backward hold besides the MLP tiles (inputs, norms, q/k/v, RoPE, attention output, their gradients); fitted to the peaks in {Results}"),
            new PlanAssumption("fused_loss_logits_copies", 1.0, "chunks",
                $"loss_logits_copies with fused_kernels on CUDA: the cross-entropy kernels read the model-dtype logits and write their gradient in place, no float32 copy (two bf16 copies, one float32 chunk's bytes); with fused_layer_working_set_hidden the 1.1B shape's 19.50 and 23.87 GiB at 8k and 32k, every layer recomputed ({Results}/h200-2026-12-03-kept-attention.jsonl)"),
            new PlanAssumption("fused_layer_working_set_hidden", 20.0, "tokens x hidden x 2 bytes",
                "layer_working_set_hidden with fused_kernels on CUDA: the fused RMSNorm, rotary and SwiGLU kernels hold no float32 intermediates; fitted with fused_loss_logits_copies"),
            new PlanAssumption("layer_working_set_mlp", 2.0, "tile tokens x intermediate x 2 bytes",
                "the [tokens, intermediate_size] tensors of one MLP tile alive at once (gate and up; mlp_tiles auto keeps each under 1 GiB)"),
            new PlanAssumption("saved_activations_hidden", 13.4, "tokens x hidden x 2 bytes per layer",
                "what autograd keeps per layer with activation_checkpointing off; the 1.1B shape with recompute off at 8k and 32k (36.7 and 87.0 GiB, shared/measurements/h200-2026-12-02.jsonl; predicted 36.27 and 86.99)"),
            new PlanAssumption("saved_activations_mlp", 4.0, "tokens x intermediate x 2 bytes per layer",
                "the MLP's kept tensors with recompute off (gate, up, activation, product)"),
            new PlanAssumption("fused_saved_activations_hidden", 11.94, "tokens x hidden x 2 bytes per layer",
                $"saved_activations_hidden with fused_kernels on CUDA: the fused RMSNorm keeps its input and one float32 per row, not its float32 intermediates; with fused_saved_activations_mlp the 1.1B shape's 31.52 and 65.72 GiB at 8k and 32k with no layer recomputed ({Results}/h200-2026-12-03-phases.jsonl; predicted 30.66 and 66.86)"),
            new PlanAssumption("fused_saved_activations_mlp", 2.0, "tokens x intermediate x 2 bytes per layer",
                "saved_activations_mlp with fused_kernels on CUDA: the fused SwiGLU keeps gate and up only (its backward recomputes silu)"),
            new PlanAssumption("alltoall_copies", 2.0, "copies of q, k, v and the attention output",
                "send and receive buffers of the Ulysses all-to-all (sequence_parallel_size > 1): not measured here"),
            new PlanAssumption("headroom_gib", 1.5, "GiB per GPU",
                $"memory a layout must leave free to fit: the 7B trained at 64k in 136.2 GiB of the H200's 140.4 and failed at 80k ({Results}/h200-2026-11-24-llama2-7b.jsonl)"),
            new PlanAssumption("budget_margin_gib", 0.25, "GiB per GPU",
                $"what activation_checkpointing: auto leaves unplanned below gpu_memory_budget_gib (in place of headroom_gib, which stays below the GPU's free memory): the fused layouts' predicted peaks are at most 0.15 GiB below the measured ({Results}/h200-2026-12-03-kept-attention.jsonl)"),
            new PlanAssumption("host_process_gib", 1.5, "GiB per rank",
                $"a rank's host memory without offload (peak host 1.5 GiB, {Results}/h200-2026-12-02-offload.jsonl)"),
        };

        /// <summary>Short names that mean a full one (<c>tflops</c>: the matmul rate).</summary>
        private static readonly Dictionary<string, string> Aliases = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["tflops"] = "matmul_tflops",
        };

        private readonly Dictionary<string, PlanAssumption> _values;

        private PlanAssumptions(IEnumerable<PlanAssumption> values)
        {
            _values = values.ToDictionary(a => a.Name, StringComparer.Ordinal);
        }

        /// <summary>The calibrated defaults.</summary>
        public static PlanAssumptions Default { get; } = new PlanAssumptions(Defaults);

        /// <summary>Every assumption, in a stable order.</summary>
        public IReadOnlyList<PlanAssumption> All => Defaults.Select(d => _values[d.Name]).ToList();

        /// <summary>The names the planner knows.</summary>
        public static IEnumerable<string> Names => Defaults.Select(d => d.Name);

        public double this[string name] => _values.TryGetValue(name, out var a) ? a.Value
            : throw new ArgumentException($"No planner assumption is called '{name}'.", nameof(name));

        /// <summary>These assumptions with <paramref name="overrides"/> replacing the named values.</summary>
        public PlanAssumptions With(IReadOnlyDictionary<string, double> overrides)
        {
            var values = new Dictionary<string, PlanAssumption>(_values, StringComparer.Ordinal);
            foreach (var given in overrides)
            {
                var pair = new KeyValuePair<string, double>(Aliases.TryGetValue(given.Key, out var full) ? full : given.Key, given.Value);
                if (!values.TryGetValue(pair.Key, out var old))
                    throw new XTunerException(ErrorIds.InvalidPlanAssumption,
                        $"'{pair.Key}' is not a planner assumption; they are: {string.Join(", ", Names)}.");
                if (double.IsNaN(pair.Value) || double.IsInfinity(pair.Value) || pair.Value < 0 ||
                    (pair.Value == 0 && old.Unit.Contains("/s")) || (pair.Key == "gpus_per_node" && pair.Value < 1))
                    throw new XTunerException(ErrorIds.InvalidPlanAssumption,
                        $"{pair.Key}={pair.Value.ToString(CultureInfo.InvariantCulture)}: the value must be a positive number ({old.Unit}).");
                values[pair.Key] = new PlanAssumption(old.Name, pair.Value, old.Unit, old.Source, overridden: true);
            }
            return new PlanAssumptions(values.Values);
        }

        /// <summary>Parses <c>name=value[,name=value...]</c> (several texts allowed) into overrides.</summary>
        public static IReadOnlyDictionary<string, double> Parse(IEnumerable<string> texts)
        {
            var result = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var part in texts.SelectMany(t => t.Split(',')).Select(p => p.Trim()).Where(p => p.Length > 0))
            {
                int eq = part.IndexOf('=');
                if (eq <= 0 || !double.TryParse(part.Substring(eq + 1).Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                    throw new XTunerException(ErrorIds.InvalidPlanAssumption,
                        $"'{part}': an assumption is name=number, e.g. matmul_tflops=700; the names are: {string.Join(", ", Names)}.");
                result[part.Substring(0, eq).Trim()] = value;
            }
            return result;
        }

        public double MatmulFlops => this["matmul_tflops"] * 1e12;
        public double AttentionFlops => this["attention_tflops"] * 1e12;

        public double WindowedAttentionEfficiency => this["windowed_attention_efficiency"];
        public double AttentionHeadDimExponent => this["attention_head_dim_exponent"];
        public double ElementwiseSeconds => this["elementwise_ps"] * 1e-12;
        public double OptimizerSecondsPerParameter => this["optimizer_ps_per_parameter"] * 1e-12;
        public double FusedElementwiseFactor => this["fused_elementwise_factor"];
        public double FusedOptimizerFactor => this["fused_optimizer_factor"];
        public double HostAdamWElementsPerSecond => this["host_adamw_gelements_s"] * 1e9;
        public double PcieBytesPerSecond => this["pcie_gbps"] * 1e9;
        public double NvlinkBytesPerSecond => this["nvlink_gbps"] * 1e9;
        public double NetworkBytesPerSecond => this["network_gbps"] * 1e9;
        public int GpusPerNode => Math.Max(1, (int)this["gpus_per_node"]);
        public double ContextBytes => this["context_gib"] * Gib;
        public double LossLogitsCopies => this["loss_logits_copies"];
        public double LayerWorkingSetHidden => this["layer_working_set_hidden"];
        public double LayerWorkingSetMlp => this["layer_working_set_mlp"];
        public double FusedLossLogitsCopies => this["fused_loss_logits_copies"];
        public double FusedLayerWorkingSetHidden => this["fused_layer_working_set_hidden"];
        public double SavedActivationsHidden => this["saved_activations_hidden"];
        public double SavedActivationsMlp => this["saved_activations_mlp"];
        public double FusedSavedActivationsHidden => this["fused_saved_activations_hidden"];
        public double FusedSavedActivationsMlp => this["fused_saved_activations_mlp"];
        public double AllToAllCopies => this["alltoall_copies"];
        public double HeadroomBytes => this["headroom_gib"] * Gib;

        public double BudgetMarginBytes => this["budget_margin_gib"] * Gib;
        public double HostProcessBytes => this["host_process_gib"] * Gib;

        /// <summary>Bytes in a GiB.</summary>
        public const double Gib = 1L << 30;
    }
}
