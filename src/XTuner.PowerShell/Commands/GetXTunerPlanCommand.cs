using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using XTuner.Core;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Planning;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Predicts the GPU memory, host memory and speed of every layout of a config, and picks the fastest that fits.</summary>
    /// <remarks>
    /// <para>Get-XTunerPlan answers, before any GPU is rented, whether a model at a sequence length fits on a number of GPUs, with which sequence-parallel size, ZeRO stage, offload and recompute, and how fast it trains. For each layout (SP sizes that divide the GPUs and the attention heads, ZeRO 0 to 3, offload_optimizer, offload_activations, activation_checkpointing on or off) it predicts the peak GPU memory per rank (weights, gradients, optimizer states, checkpointed activations, one layer's working set, the loss and all-to-all workspaces, communication buffers), the host memory per node, the step time and the tokens per second per GPU (FLOPs over the measured kernel rates, all-to-all and ZeRO traffic over NVLink within a node and the network between nodes).</para>
    /// <para>It returns XTunerPlan objects, those that fit first, fastest first; the first has Recommended set. -All also returns those that do not fit (Limit says whether GPU or host memory). When none fits, it writes an XTunerNoLayoutFits error that says what would: more GPUs, a shorter sequence, or offload.</para>
    /// <para>-Option pins layout choices (sequence_parallel_size, zero_stage, offload_optimizer, offload_activations, activation_checkpointing, mlp_tiles: only layouts with that value are returned) and changes any other key (max_length, model.num_hidden_layers). Every constant of the model is in the Assumptions property of each plan and can be changed with -Assume. The defaults are calibrated on one NVIDIA H200; the values are predictions until measured.</para>
    /// </remarks>
    /// <example>
    /// <code>Get-XTunerConfig llama2-7b-full-128k-sp8 | Get-XTunerPlan -Gpus 8</code>
    /// <para>The layouts of XTuner's 128k recipe that fit on eight H200s, fastest first.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerPlan llama2-70b-full-1m-sp64 -Gpus 64 -GpuMemory 80GiB -HostMemory 2TiB -Option @{ zero_stage = 3 }</code>
    /// <para>XTuner's 1M-token 70B recipe on 64 GPUs of 80 GiB with ZeRO-3 pinned.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerConfig *7b* | Get-XTunerPlan -Gpus 8 -MaxLength 256k | Where-Object Recommended</code>
    /// <para>The recommended layout of each 7B config at 256k tokens.</para>
    /// </example>
    [Cmdlet(VerbsCommon.Get, "XTunerPlan", DefaultParameterSetName = ConfigSet)]
    [OutputType(typeof(XTunerPlan))]
    public sealed class GetXTunerPlanCommand : ConfigInputCmdlet
    {

        /// <summary>GPUs in all (default: the config's nodes x gpus_per_node).</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int Gpus { get; set; }

        /// <summary>Memory of one GPU: a number of bytes (141GB in PowerShell) or a size such as '141GiB' or '80GiB' (default 141GiB, an H200).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? GpuMemory { get; set; }

        /// <summary>Host memory of one node, checked against what offload puts there: bytes (2TB) or '2TiB' (default: not checked).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? HostMemory { get; set; }

        /// <summary>Tokens per sequence, as a number or as 256k or 1m (default: the config's max_length).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? MaxLength { get; set; }

        /// <summary>Config keys by their YAML names: layout keys (zero_stage, sequence_parallel_size, offload_optimizer, offload_activations, activation_checkpointing, mlp_tiles) pin that choice; others change the config.</summary>
        [Parameter]
        public Hashtable? Option { get; set; }

        /// <summary>The model's assumptions to change, by name: @{ matmul_tflops = 700; nvlink_gbps = 300 }.</summary>
        [Parameter]
        public Hashtable? Assume { get; set; }

        /// <summary>Also return the layouts that do not fit.</summary>
        [Parameter]
        public SwitchParameter All { get; set; }

        protected override void ProcessInput()
        {
            ErrorTarget = (object?)Name ?? Path;
            var config = ReadConfig().Clone();
            ErrorTarget = config;
            var request = new PlanRequest(config)
            {
                Gpus = Gpus > 0 ? Gpus : (int?)null,
                MaxLength = MaxLength != null ? Length(MaxLength) : (int?)null,
                GpuMemoryBytes = GpuMemory != null ? MemorySize.Parse(GpuMemory, "-GpuMemory") : PlanHardware.DefaultGpuMemoryGiB * PlanAssumptions.Gib,
                HostMemoryBytes = HostMemory != null ? MemorySize.Parse(HostMemory, "-HostMemory") : (double?)null,
                Assumptions = PlanAssumptions.Default.With(Assumptions()),
            };
            foreach (DictionaryEntry entry in Option ?? new Hashtable())
            {
                var key = entry.Key.ToString();
                ConfigYaml.SetValue(config, key, entry.Value is PSObject pso ? pso.BaseObject : entry.Value);
                if (Planner.PinnableKeys.Contains(key)) request.Pinned.Add(key);
            }
            var plans = Planner.Plan(request);
            foreach (var plan in plans.Where(p => All.IsPresent || p.Fits)) WriteObject(plan);
            if (Planner.Advice(request, plans) is string advice) throw new XTunerException(ErrorIds.NoLayoutFits, advice);
        }

        private static int Length(string text) =>
            ConfigValues.TryConvertScalar(typeof(int), text.Trim(), out var value, out var error) && value is int n && n > 0
                ? n
                : throw new XTunerException(ErrorIds.InvalidConfigValue, $"-MaxLength '{text}': {error ?? "a length is 1 or more tokens"} (e.g. 32768, 256k or 1m).");

        // Numbers and text alike go through the parser, so that a bad value gets its ErrorId.
        private IReadOnlyDictionary<string, double> Assumptions() => PlanAssumptions.Parse(
            (Assume ?? new Hashtable()).Cast<DictionaryEntry>().Select(e =>
                e.Key + "=" + System.Convert.ToString(e.Value is PSObject pso ? pso.BaseObject : e.Value, CultureInfo.InvariantCulture)));
    }
}
