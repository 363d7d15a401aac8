using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using XTuner.Core.Configuration;

namespace XTuner.Core.Planning
{
    /// <summary>
    /// Every layout of a config on the GPUs asked about (SP sizes that divide the world and the heads, ZeRO 0-3,
    /// offload of the optimizer and of the checkpoints, recompute on or off), each predicted by <see cref="PlanModel"/>;
    /// the fastest that fits is the recommendation, and when none fits, <see cref="Advice"/> says what would.
    /// </summary>
    public static class Planner
    {
        public const string SequenceParallelKey = "sequence_parallel_size";
        public const string ZeroStageKey = "zero_stage";
        public const string OffloadOptimizerKey = "offload_optimizer";
        public const string OffloadActivationsKey = "offload_activations";
        public const string ActivationCheckpointingKey = "activation_checkpointing";
        public const string MlpTilesKey = "mlp_tiles";

        /// <summary>The config keys that choose a layout; given in --cfg-options (-Option), they pin it.</summary>
        public static IReadOnlyList<string> PinnableKeys { get; } = new[]
        {
            SequenceParallelKey, ZeroStageKey, OffloadOptimizerKey, OffloadActivationsKey, ActivationCheckpointingKey, MlpTilesKey,
        };

        /// <summary>
        /// The layouts of the request, those that fit first (fastest first: the most tokens/s per GPU; the first is <see cref="XTunerPlan.Recommended"/>),
        /// then those that do not (smallest peak first).
        /// </summary>
        public static IReadOnlyList<XTunerPlan> Plan(PlanRequest request)
        {
            var config = Effective(request);
            RequireValid(config);
            PlanModel.RequireDimensions(config);
            var hardware = Hardware(request);
            int world = WorldSize(request);
            var plans = Layouts(config, world, request.Pinned)
                .Select(l => PlanModel.Estimate(config, l, hardware, request.Assumptions))
                .ToList();
            var ordered = plans.Where(p => p.Fits).OrderByDescending(p => p.TokensPerSecondPerGpu)
                .Concat(plans.Where(p => !p.Fits).OrderBy(p => p.PeakGpuMemoryGiB)).ToList();
            if (ordered.Count > 0 && ordered[0].Fits) ordered[0].Recommended = true;
            return ordered;
        }

        /// <summary>
        /// Refuses a config that training would refuse for its own values (<see cref="ConfigValidator"/>, as
        /// <see cref="XTunerConfigException"/>): not for the layout, which the planner chooses on its own GPUs, nor for
        /// data and paths, which planning does not read.
        /// </summary>
        private static void RequireValid(XTunerConfig config)
        {
            var own = config.Clone();
            own.SequenceParallelSize = 1;
            own.Nodes = 1;
            own.GpusPerNode = 1;
            own.RanksPerGpu = 1;
            var errors = ConfigValidator.Validate(own, ".", checkPaths: false)
                .Where(f => f.Severity == FindingSeverity.Error && f.Key != "data_files").ToList();
            if (errors.Count > 0) throw new XTunerConfigException(errors);
        }

        /// <summary>
        /// The prediction for the layout the config itself asks for, on its own world size; with
        /// <paramref name="hostMemoryBytes"/> (a node's available host memory) offload_activations auto offloads what it holds.
        /// </summary>
        public static XTunerPlan ForConfig(XTunerConfig config, double gpuMemoryBytes, PlanAssumptions? assumptions = null, double? hostMemoryBytes = null)
        {
            PlanModel.RequireDimensions(config);
            var a = assumptions ?? PlanAssumptions.Default;
            return PlanModel.Estimate(config, PlanLayout.Of(config, config.WorldSize),
                new PlanHardware(gpuMemoryBytes, hostMemoryBytes, Math.Max(1, config.GpusPerNode)), a);
        }

        /// <summary>
        /// When no layout fits: the fewest GPUs (doubling) and the longest sequence (halving) at which one would, and
        /// offload where it is pinned off; null when a layout fits.
        /// </summary>
        public static string? Advice(PlanRequest request, IReadOnlyList<XTunerPlan> plans)
        {
            if (plans.Any(p => p.Fits)) return null;
            var config = Effective(request);
            int world = WorldSize(request);
            var closest = plans.FirstOrDefault();
            var lines = new List<string>
            {
                string.Format(CultureInfo.InvariantCulture,
                    "No layout of {0} at {1} tokens fits {2} GPU(s) of {3:F0} GiB{4}{5}.",
                    config.Name ?? config.ModelName, config.MaxLength, world, request.GpuMemoryBytes / PlanAssumptions.Gib,
                    request.HostMemoryBytes is double host ? string.Format(CultureInfo.InvariantCulture, " with {0:F0} GiB of host memory per node", host / PlanAssumptions.Gib) : "",
                    closest != null ? string.Format(CultureInfo.InvariantCulture, " (the smallest, {0}, needs {1:F1} GiB per GPU{2})", closest.Layout, closest.PeakGpuMemoryGiB,
                        closest.FitsGpu ? string.Format(CultureInfo.InvariantCulture, " and {0:F0} GiB of host memory per node", closest.HostMemoryPerNodeGiB) : "") : ""),
            };
            for (int gpus = world * 2; gpus <= Math.Max(world * 2, 4096); gpus *= 2)
            {
                var fit = Plan(With(request, gpus: gpus)).FirstOrDefault(p => p.Fits);
                if (fit == null) continue;
                lines.Add(string.Format(CultureInfo.InvariantCulture, "More GPUs: {0} fit ({1}, {2:F1} GiB per GPU, {3:F2} s per step).",
                    gpus, fit.Layout, fit.PeakGpuMemoryGiB, fit.StepTimeSeconds));
                break;
            }
            for (int length = config.MaxLength / 2; length >= 1024; length /= 2)
            {
                var fit = Plan(With(request, maxLength: length)).FirstOrDefault(p => p.Fits);
                if (fit == null) continue;
                lines.Add(string.Format(CultureInfo.InvariantCulture, "A shorter sequence: {0} tokens fit on {1} GPU(s) ({2}, {3:F1} GiB per GPU).",
                    length, world, fit.Layout, fit.PeakGpuMemoryGiB));
                break;
            }
            var offloadPins = new[] { OffloadOptimizerKey, OffloadActivationsKey }.Where(request.Pinned.Contains).ToList();
            if (offloadPins.Count > 0)
            {
                var unpinned = With(request);
                foreach (var key in offloadPins) unpinned.Pinned.Remove(key);
                var fit = Plan(unpinned).FirstOrDefault(p => p.Fits);
                if (fit != null)
                    lines.Add(string.Format(CultureInfo.InvariantCulture, "Leaving {0} to the planner: {1} fits ({2:F1} GiB per GPU, {3:F0} GiB of host memory per node).",
                        string.Join(" and ", offloadPins), fit.Layout, fit.PeakGpuMemoryGiB, fit.HostMemoryPerNodeGiB));
            }
            if (lines.Count == 1) lines.Add("Neither more GPUs (up to 4096) nor a shorter sequence (down to 1024 tokens) makes one fit: check the model and the memory given.");
            return string.Join(Environment.NewLine, lines);
        }

        /// <summary>The config with the request's sequence length.</summary>
        public static XTunerConfig Effective(PlanRequest request)
        {
            var config = request.Config.Clone();
            if (request.MaxLength is int length) config.MaxLength = length;
            return config;
        }

        private static int WorldSize(PlanRequest request) => request.Gpus ?? Math.Max(1, request.Config.WorldSize);

        private static PlanHardware Hardware(PlanRequest request) =>
            new PlanHardware(request.GpuMemoryBytes, request.HostMemoryBytes, request.Assumptions.GpusPerNode);

        private static PlanRequest With(PlanRequest request, int? gpus = null, int? maxLength = null)
        {
            var copy = new PlanRequest(request.Config)
            {
                Gpus = gpus ?? request.Gpus,
                GpuMemoryBytes = request.GpuMemoryBytes,
                HostMemoryBytes = request.HostMemoryBytes,
                MaxLength = maxLength ?? request.MaxLength,
                Assumptions = request.Assumptions,
            };
            foreach (var key in request.Pinned) copy.Pinned.Add(key);
            return copy;
        }

        private static IEnumerable<PlanLayout> Layouts(XTunerConfig config, int world, ISet<string> pinned)
        {
            var spec = config.Model;
            int heads = spec.NumAttentionHeads!.Value;
            bool Valid(int sp) => sp >= 1 && world % sp == 0 && (heads % sp == 0 || config.SequenceParallelHeadPadding) && sp <= config.MaxLength;
            if (pinned.Contains(SequenceParallelKey) && !Valid(config.SequenceParallelSize))
                throw new XTunerException(ErrorIds.InvalidSequenceParallelSize, string.Format(CultureInfo.InvariantCulture,
                    "sequence_parallel_size {0} must divide the {1} GPU(s) and the model's {2} attention heads (or set sequence_parallel_head_padding: true); sizes that work here: {3}.",
                    config.SequenceParallelSize, world, heads, string.Join(", ", Enumerable.Range(1, world).Where(Valid))));
            var sizes = pinned.Contains(SequenceParallelKey) ? new[] { config.SequenceParallelSize } : Enumerable.Range(1, world).Where(Valid);
            // On one GPU, ZeRO 1 and 2 keep whole states as ZeRO-0 does: listing them would repeat its rows.
            var stages = pinned.Contains(ZeroStageKey) ? new[] { config.ZeroStage } : world == 1 ? new[] { 0, 3 } : new[] { 0, 1, 2, 3 };
            var recompute = pinned.Contains(ActivationCheckpointingKey) ? new[] { config.ActivationCheckpointing } : new[] { LayerCount.All, LayerCount.None };
            var optimizer = pinned.Contains(OffloadOptimizerKey) ? new[] { config.OffloadOptimizer } : new[] { false, true };
            var activations = pinned.Contains(OffloadActivationsKey) ? new[] { config.OffloadActivations } : new[] { LayerCount.None, LayerCount.All };
            foreach (int sp in sizes)
                foreach (int stage in stages)
                    foreach (var ac in recompute)
                        foreach (bool offloadOptimizer in optimizer)
                            foreach (var offloadActivations in activations)
                            {
                                // ZeRO-3 gathers each layer again for its recompute; offloaded checkpoints need checkpoints.
                                if (stage == 3 && !(ac.IsAll || ac.IsAuto)) continue;
                                if (offloadActivations.IsAny && !ac.IsAny) continue;
                                yield return new PlanLayout
                                {
                                    WorldSize = world,
                                    SequenceParallelSize = sp,
                                    ZeroStage = stage,
                                    ActivationCheckpointing = ac,
                                    OffloadOptimizer = offloadOptimizer,
                                    OffloadActivations = offloadActivations,
                                    MlpTiles = config.MlpTiles,
                                };
                            }
        }
    }
}
