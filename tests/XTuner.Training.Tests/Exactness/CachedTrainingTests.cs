using System.IO;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Exactness
{
    /// <summary>Training from the dataset cache is training on the same batches as from memory: the same loss at every step.</summary>
    [Collection(DistributedCollection.Name)]
    public class CachedTrainingTests
    {
        [Fact]
        public void TwoRanksTrainingFromTheCacheReplayTheInMemoryLossesStepByStep()
        {
            // Two data-parallel ranks, shuffled batches of two sequences: the sampler's order over the cache must be the same.
            var shape = new RunShape(World: 2, BatchSize: 2, Steps: 5);
            var inMemory = TrainedRun.Train(shape, null, "--cfg-options", "dataset_cache_dir=none");
            Assert.False(Directory.Exists(Path.Combine(inMemory.WorkDir, "dataset_cache")));

            // Both ranks ask for the cache at once: one builds it in the work dir, the other waits and reads it.
            var built = TrainedRun.Train(shape);
            var cacheRoot = Path.Combine(built.WorkDir, "dataset_cache");
            Assert.Single(Directory.GetDirectories(cacheRoot));
            // Whichever rank took the lock first built it; rank 0 says which it did.
            Assert.Matches($"data: (built|reusing) dataset cache {System.Text.RegularExpressions.Regex.Escape(cacheRoot)}", built.Output);

            // A later run pointed at that cache reads it without tokenizing.
            var reused = TrainedRun.Train(shape, null, "--cfg-options", "dataset_cache_dir=" + cacheRoot);
            Assert.Contains("data: reusing dataset cache " + cacheRoot, reused.Output);

            foreach (var run in new[] { built, reused })
            {
                Assert.Equal(5, run.Steps.Count);
                for (int i = 0; i < 5; i++)
                {
                    Assert.Equal(inMemory.Steps[i].Loss, run.Steps[i].Loss);
                    Assert.Equal(inMemory.Steps[i].TargetTokens, run.Steps[i].TargetTokens);
                    Assert.Equal(inMemory.Steps[i].GradNorm, run.Steps[i].GradNorm);
                }
            }
        }
    }
}
