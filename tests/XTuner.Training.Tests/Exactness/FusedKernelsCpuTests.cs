using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Exactness
{
    /// <summary>fused_kernels on the CPU: auto trains exactly as before (the TorchSharp path, nothing said); true is refused.</summary>
    [Collection(DistributedCollection.Name)]
    public class FusedKernelsCpuTests
    {
        [Fact]
        public void AutoOnTheCpuTrainsBitForBitAsFalse()
        {
            var shape = new RunShape(Steps: 3);
            var auto = TrainedRun.Train(shape, null, "--cfg-options", "fused_kernels=auto");
            var off = TrainedRun.Train(shape, null, "--cfg-options", "fused_kernels=false");
            Assert.Equal(3, auto.Steps.Count);
            Assert.Equal(off.Steps.Select(s => BitConverter.DoubleToInt64Bits(s.Loss)), auto.Steps.Select(s => BitConverter.DoubleToInt64Bits(s.Loss)));
            Assert.Equal(off.Steps.Select(s => s.GradNorm), auto.Steps.Select(s => s.GradNorm));
            Assert.DoesNotContain("fused kernels", auto.Output);
        }

        [Fact]
        public void TrueOnTheCpuIsRefusedBeforeTraining()
        {
            var root = Path.Combine(Path.GetTempPath(), "xtuner-fused-cpu-" + Guid.NewGuid().ToString("N").Substring(0, 8));
            Directory.CreateDirectory(root);
            var config = Path.Combine(root, "config.yaml");
            File.WriteAllText(config, new RunShape().Yaml("fused"));
            var result = RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() }, TimeSpan.FromMinutes(1),
                "train", config, "--work-dir", Path.Combine(root, "work"), "--cfg-options", "fused_kernels=true")[0];
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains("XTunerFusedKernelsUnavailable", result.Error);
            Assert.Contains("fused_kernels: true needs device: cuda", result.Error);
        }
    }
}
