using System.IO;
using System.Linq;
using XTuner.Training.IO;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Exactness
{
    /// <summary>ZeRO-3 loads a Hugging Face checkpoint one shard at a time and exports one unit at a time, exactly.</summary>
    [Collection(DistributedCollection.Name)]
    public class ZeroCheckpointTests
    {
        [Fact]
        public void ZeroStage3ContinuesFromAndExportsAHuggingFaceCheckpointLikeOneProcess()
        {
            var start = TrainedRun.Train(new RunShape(Steps: 2));
            var checkpoint = Path.Combine(start.WorkDir, "hf");
            var sharded = TrainedRun.Train(new RunShape(World: 2, ZeroStage: 3, Checkpointing: true, Pretrained: checkpoint));
            var single = TrainedRun.Train(new RunShape(BatchSize: 2, Pretrained: checkpoint));

            for (int i = 0; i < 3; i++)
                Assert.InRange(System.Math.Abs(sharded.Steps[i].Loss - single.Steps[i].Loss) / single.Steps[i].Loss, 0, 1e-5);
            using var a = SafetensorsFile.Open(Path.Combine(sharded.WorkDir, "hf", "model.safetensors"));
            using var b = SafetensorsFile.Open(Path.Combine(single.WorkDir, "hf", "model.safetensors"));
            Assert.Equal(b.Tensors.Keys.OrderBy(k => k), a.Tensors.Keys.OrderBy(k => k));
            // The same parameters after 3 AdamW steps; elements with noise-level gradients may differ by up to lr per step.
            foreach (var name in b.Tensors.Keys)
                Assert.True((a.Read(name) - b.Read(name)).abs().max().item<float>() <= 3e-3, name);
            Assert.True(File.Exists(Path.Combine(sharded.WorkDir, "hf", "tokenizer.json")));
        }
    }
}
