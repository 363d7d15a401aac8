using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using XTuner.Core.Configuration;

namespace XTuner.Core.Launch
{
    /// <summary>
    /// The NVIDIA GPUs this machine shows to a process (without loading CUDA: the driver's device files, narrowed by
    /// CUDA_VISIBLE_DEVICES), so that a CUDA launch on a machine without enough of them is refused before any rank
    /// starts rather than failing in every rank.
    /// </summary>
    public static class CudaDevices
    {
        private static readonly Regex DeviceFile = new Regex(@"^nvidia\d+$", RegexOptions.CultureInvariant);

        /// <summary>GPUs visible here: one device file /dev/nvidiaN per GPU, at most as many as CUDA_VISIBLE_DEVICES lists.</summary>
        public static int Visible() => Visible("/dev", Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES"));

        /// <summary><see cref="Visible()"/> with the device folder and CUDA_VISIBLE_DEVICES given (null: unset).</summary>
        public static int Visible(string deviceFolder, string? cudaVisibleDevices)
        {
            int present = Directory.Exists(deviceFolder)
                ? Directory.GetFiles(deviceFolder).Count(f => DeviceFile.IsMatch(Path.GetFileName(f)))
                : 0;
            if (cudaVisibleDevices == null) return present;
            // CUDA stops at the first entry that names no device ("-1" hides them all).
            var listed = cudaVisibleDevices.Split(',').Select(e => e.Trim()).TakeWhile(e => e.Length > 0 && e != "-1").Count();
            return Math.Min(present, listed);
        }

        /// <summary>
        /// Refuses a CUDA plan whose ranks on this machine need more GPUs than it shows (<see cref="ErrorIds.CudaUnavailable"/>):
        /// one each, or one per ranks_per_gpu of them.
        /// </summary>
        public static void RequireFor(LaunchPlan plan, int visible)
        {
            if (plan.Config.Device != DeviceKind.Cuda) return;
            int ranks = plan.Ranks.Count, perGpu = Math.Max(1, plan.Config.RanksPerGpu);
            int needed = (ranks + perGpu - 1) / perGpu;
            if (visible == 0)
                throw new XTunerException(ErrorIds.CudaUnavailable,
                    $"This machine shows no NVIDIA GPU (no /dev/nvidia0, or CUDA_VISIBLE_DEVICES hides them) but '{plan.Config.Name}' trains on CUDA: " +
                    "train on the CPU (-Device Cpu, --device cpu), or start it where the GPUs are (-Launcher Slurm, xtuner submit).");
            if (needed > visible)
            {
                int share = (ranks + visible - 1) / visible;
                throw new XTunerException(ErrorIds.CudaUnavailable,
                    $"'{plan.Config.Name}' starts {ranks} CUDA ranks on this machine but it shows {visible} GPU(s)" +
                    (perGpu > 1 ? $", and {perGpu} ranks per GPU need {needed}" : ", and NCCL cannot put two ranks on one GPU") +
                    $": set ranks_per_gpu: {share} to let {share} ranks share each GPU (-RanksPerGpu {share}, --cfg-options ranks_per_gpu={share}; " +
                    $"the collectives then go through host memory, slower, same results), or -GpusPerNode {visible} (--nproc-per-node {visible}), or run on more GPUs.");
            }
        }
    }
}
