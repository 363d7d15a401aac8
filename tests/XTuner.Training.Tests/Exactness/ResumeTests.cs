using System.IO;
using System.Linq;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Exactness
{
    /// <summary>A run resumed from a checkpoint continues with the same losses as the uninterrupted run.</summary>
    [Collection(DistributedCollection.Name)]
    public class ResumeTests
    {
        [Theory]
        [InlineData(1, 0, false)]
        [InlineData(2, 2, false)]
        [InlineData(2, 3, false)]
        [InlineData(2, 3, true)]
        [InlineData(1, 0, false, true)]
        public void ResumingReplaysTheSameLosses(int world, int zeroStage, bool offload, bool castWeights = false)
        {
            // castWeights: the parameters are cast from the master the checkpoint restores, layer by layer (half recomputed).
            var shape = new RunShape(World: world, ZeroStage: zeroStage, Steps: 6, SaveSteps: 3, Checkpointing: zeroStage == 3,
                OffloadOptimizer: offload, OffloadActivations: offload ? "true" : "false", MlpTiles: offload ? "2" : "1",
                CastWeights: castWeights ? "true" : null, RecomputedLayers: castWeights ? "1" : null);
            var full = TrainedRun.Train(shape);
            Assert.True(Directory.Exists(Path.Combine(full.WorkDir, "checkpoints", "step-000003")));
            Assert.True(Directory.Exists(Path.Combine(full.WorkDir, "checkpoints", "step-000006")));

            // An interrupted run: its work dir holds what existed after step 3.
            var interrupted = Path.Combine(Path.GetDirectoryName(full.WorkDir)!, "interrupted");
            CopyDirectory(Path.Combine(full.WorkDir, "checkpoints", "step-000003"), Path.Combine(interrupted, "checkpoints", "step-000003"));
            File.WriteAllLines(Path.Combine(interrupted, "metrics.jsonl"), File.ReadAllLines(Path.Combine(full.WorkDir, "metrics.jsonl")).Take(3));

            var resumed = TrainedRun.Train(shape, interrupted, "--resume");
            Assert.Contains("resumed from", resumed.Output);
            Assert.Equal(6, resumed.Steps.Count);
            for (int i = 0; i < 6; i++)
                Assert.Equal(full.Steps[i].Loss, resumed.Steps[i].Loss, 6);
            Assert.Equal(full.Steps[5].GradNorm, resumed.Steps[5].GradNorm, 6);
        }

        [Fact]
        public void AFreshStartOverEarlierCheckpointsIsRefused()
        {
            var shape = new RunShape(Steps: 2, SaveSteps: 1);
            var first = TrainedRun.Train(shape);
            var e = Assert.ThrowsAny<System.Exception>(() => TrainedRun.Train(shape, first.WorkDir));
            Assert.Contains("holds checkpoints of an earlier run", e.Message);
        }

        [Theory]
        [InlineData("trainer_state.json")]
        [InlineData("optimizer.safetensors")]
        public void ACorruptCheckpointIsNamedWithTheOneBeforeIt(string file)
        {
            var shape = new RunShape(Steps: 2, SaveSteps: 1);
            var first = TrainedRun.Train(shape);
            var latest = Path.Combine(first.WorkDir, "checkpoints", "step-000002");
            var earlier = Path.Combine(first.WorkDir, "checkpoints", "step-000001");
            var path = Path.Combine(latest, file);
            File.WriteAllBytes(path, File.ReadAllBytes(path).Take(40).ToArray());

            var e = Assert.ThrowsAny<System.Exception>(() => TrainedRun.Train(shape with { Steps = 3 }, first.WorkDir, "--resume"));
            Assert.Contains($"error [XTunerCheckpointCorrupt]: {path} cannot be read (", e.Message);
            Assert.Contains($"resume from the checkpoint before it (--resume {earlier}", e.Message);
            Assert.DoesNotContain("   at ", e.Message);

            // What it suggests works, and replays the uninterrupted losses.
            var resumed = TrainedRun.Train(shape with { Steps = 3 }, first.WorkDir, "--resume", earlier);
            Assert.Contains("resumed from", resumed.Output);
            Assert.Equal(first.Steps[1].Loss, resumed.Steps[1].Loss, 6);
        }

        private static void CopyDirectory(string from, string to)
        {
            Directory.CreateDirectory(to);
            foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        }
    }
}
