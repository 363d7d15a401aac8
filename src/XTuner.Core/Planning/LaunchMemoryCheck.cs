using System;
using System.Globalization;
using System.Linq;
using XTuner.Core.Configuration;

namespace XTuner.Core.Planning
{
    /// <summary>
    /// Before a CUDA launch: a warning (never a refusal: the model is a prediction) when the planner predicts that the
    /// config's own layout needs more memory than a GPU has. CPU runs are not looked at.
    /// </summary>
    public static class LaunchMemoryCheck
    {
        /// <summary>The memory of one GPU for the check (141GiB, 80GiB ...); unset: an H200's 141 GiB.</summary>
        public const string GpuMemoryVariable = "XTUNER_GPU_MEMORY";

        /// <summary>The warning for <paramref name="config"/> (prepared: overrides applied), or null when it fits or is not planned.</summary>
        public static ConfigFinding? Warning(XTunerConfig config) =>
            config.Device == DeviceKind.Cuda ? Warning(config, GpuMemoryBytes(Environment.GetEnvironmentVariable(GpuMemoryVariable))) : null;

        /// <summary>The warning for <paramref name="config"/> on GPUs of <paramref name="gpuMemoryBytes"/>.</summary>
        public static ConfigFinding? Warning(XTunerConfig config, double gpuMemoryBytes)
        {
            if (config.Device != DeviceKind.Cuda || config.Model.ParameterCount == null) return null;
            var plan = Planner.ForConfig(config, gpuMemoryBytes);
            int sharing = Math.Max(1, config.RanksPerGpu);
            double perGpu = plan.Memory.PeakGpu * sharing;
            if (perGpu + plan.Assumptions.HeadroomBytes <= gpuMemoryBytes) return null;
            var request = new PlanRequest(config) { GpuMemoryBytes = gpuMemoryBytes / sharing };
            XTunerPlan? better;
            try
            {
                better = Planner.Plan(request).FirstOrDefault(p => p.Fits);
            }
            catch (XTunerConfigException)
            {
                // The launch refuses such a config by itself; the warning names no layout for it.
                better = null;
            }
            return new ConfigFinding(FindingSeverity.Warning, "max_length", string.Format(CultureInfo.InvariantCulture,
                "[{0}] The planner predicts {1:F1} GiB per GPU for {2} at {3} tokens ({4}{5}), more than the {6:F0} GiB of a GPU ({7} sets it): " +
                "the run may run out of GPU memory. {8}See xtuner plan {2} --gpus {9} (Get-XTunerPlan) for the layouts that fit.",
                ErrorIds.PredictedOutOfMemory, perGpu / PlanAssumptions.Gib, config.Name ?? config.ModelName, config.MaxLength, plan.Layout,
                sharing > 1 ? $", {sharing} ranks per GPU" : "", gpuMemoryBytes / PlanAssumptions.Gib, GpuMemoryVariable,
                better != null ? $"{better.Layout} is predicted to fit ({better.PeakGpuMemoryGiB:F1} GiB). " : "", config.WorldSize),
                ErrorIds.PredictedOutOfMemory);
        }

        /// <summary>Bytes of <paramref name="text"/> (the variable's value), or the default H200 when unset or unreadable.</summary>
        internal static double GpuMemoryBytes(string? text)
        {
            if (!string.IsNullOrWhiteSpace(text))
            {
                try
                {
                    return MemorySize.Parse(text!, GpuMemoryVariable);
                }
                catch (XTunerException)
                {
                    // A warning must not stop a launch: an unreadable value falls back to the default.
                }
            }
            return PlanHardware.DefaultGpuMemoryGiB * PlanAssumptions.Gib;
        }
    }
}
