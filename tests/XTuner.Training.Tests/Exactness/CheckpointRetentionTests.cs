using System.IO;
using System.Linq;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Exactness
{
    [Collection(DistributedCollection.Name)]
    public class CheckpointRetentionTests
    {
        [Fact]
        public void OnlyTheNewestSaveTotalLimitCheckpointsAreKept()
        {
            var run = TrainedRun.Train(new RunShape(World: 2, ZeroStage: 1, Steps: 4, SaveSteps: 1, SaveTotalLimit: 2));
            var folders = Directory.GetDirectories(Path.Combine(run.WorkDir, "checkpoints")).Select(Path.GetFileName).OrderBy(n => n).ToArray();
            Assert.Equal(new[] { "step-000003", "step-000004" }, folders);
            // ZeRO-1 over 2 ranks: each rank's optimizer shard, and the trainer state.
            Assert.Equal(new[] { "optimizer-rank00000.safetensors", "optimizer-rank00001.safetensors", "trainer_state.json" },
                Directory.GetFiles(Path.Combine(run.WorkDir, "checkpoints", "step-000004")).Select(Path.GetFileName).OrderBy(n => n));
        }
    }
}
