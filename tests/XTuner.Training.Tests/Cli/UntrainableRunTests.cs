using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Core.Runs;
using XTuner.Training.Tests.Distributed;
using XTuner.Training.Tests.Exactness;
using XTuner.Training.Tests.Models;
using Xunit;

namespace XTuner.Training.Tests.Cli
{
    /// <summary>Runs that cannot train: a divergent loss, data without targets or samples, a model the host cannot hold, a damaged model folder. Real processes.</summary>
    [Collection(DistributedCollection.Name)]
    public sealed class UntrainableRunTests
    {
        private static readonly string Root = Directory.CreateDirectory(
            Path.Combine(Path.GetTempPath(), "xtuner-untrainable-" + Guid.NewGuid().ToString("N").Substring(0, 8))).FullName;

        private static RankResult Train(string workDir, params string[] cfgOptions) =>
            RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() }, TimeSpan.FromMinutes(2),
                new[] { "train", "tiny-llama", "--work-dir", workDir, "--max-steps", "3", "--cfg-options" }.Concat(cfgOptions).ToArray())[0];

        /// <summary>A tokenized JSONL file of <paramref name="masked"/>.Length samples; a masked one has every label -100.</summary>
        private static string Data(string name, params bool[] masked)
        {
            var path = Path.Combine(Root, name + ".jsonl");
            File.WriteAllLines(path, masked.Select(m =>
            {
                var ids = Enumerable.Range(5, 30).ToArray();
                var labels = m ? ids.Select(_ => -100).ToArray() : ids;
                return $"{{\"input_ids\": [{string.Join(",", ids)}], \"labels\": [{string.Join(",", labels)}]}}";
            }));
            return path;
        }

        [Fact]
        public void ADivergentLossStopsAtItsStepAndWritesNoResult()
        {
            var workDir = Path.Combine(Root, "diverges");
            var result = Train(workDir, "lr=1e30");
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("error [XTunerNonFiniteLoss]: The loss is NaN at step 2 (grad_norm NaN); the last finite loss was", result.Error);
            Assert.DoesNotContain("   at ", result.Error);
            Assert.Single(MetricsFile.Read(workDir));
            Assert.False(Directory.Exists(Path.Combine(workDir, "hf")), "a diverged run must not export a model");
            Assert.Equal(RunState.Failed, XTunerRun.Load(workDir)!.State);
        }

        [Fact]
        public void DataWithoutTargetsIsRefusedBeforeTraining()
        {
            var data = Data("masked", true, true, true);
            var result = Train(Path.Combine(Root, "masked"), $"data_files={data}", "dataset_format=tokenized");
            Assert.Equal(1, result.ExitCode);
            Assert.Contains($"error [XTunerNoTargets]: data_files ({data}) hold 3 sample(s) but no target", result.Error);
            Assert.DoesNotContain("step 1/", result.Output);
        }

        [Fact]
        public void AnEmptyDataFileIsNamed()
        {
            var data = Path.Combine(Root, "empty.jsonl");
            File.WriteAllText(data, "");
            var result = Train(Path.Combine(Root, "empty"), $"data_files={data}", "dataset_format=tokenized");
            Assert.Equal(1, result.ExitCode);
            Assert.Contains($"error [XTunerBadDataFile]: data_files ({data}) hold no samples", result.Error);
        }

        [Fact]
        public void AModelTheHostCannotHoldEndsInOneLineThatSaysWhere()
        {
            // 3 trillion parameters: the CPU allocator refuses the first of them at once.
            var result = Train(Path.Combine(Root, "huge"), "model.intermediate_size=2000000000");
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("error [XTunerOutOfMemory]: The host ran out of memory in setup (building the model and the optimizer states) " +
                            "(sequences of 256 tokens): DefaultCPUAllocator: can't allocate memory: you tried to allocate", result.Error);
            Assert.DoesNotContain("frame #", result.Error);
        }

        [Theory]
        [InlineData("config.json", "not valid JSON")]
        [InlineData("model.safetensors", "not a safetensors file")]
        public void ADamagedModelFileIsNamed(string file, string what)
        {
            var model = Path.Combine(Root, "model-" + file);
            Directory.CreateDirectory(model);
            foreach (var f in Directory.GetFiles(HfFixture.Folder("tiny-llama"))) File.Copy(f, Path.Combine(model, Path.GetFileName(f)));
            var path = Path.Combine(model, file);
            File.WriteAllBytes(path, File.ReadAllBytes(path).Take(50).ToArray());
            var result = Train(Path.Combine(Root, "damaged-" + file), $"pretrained_model_name_or_path={model}", "random_init=false", "tokenizer=byte");
            Assert.Equal(1, result.ExitCode);
            Assert.Contains($"error [XTunerBadModelFile]: {path}: {what}", result.Error);
        }

        [Fact]
        public void AMicroBatchWithoutTargetsIsSkippedWithAWarningAndChangesNothing()
        {
            // One step of two micro-batches, the first all masked, against one step of the second alone.
            var options = new[] { "dataset_format=tokenized", "pack_to_max_length=false", "shuffle=false" };
            var shape = new RunShape(Steps: 1);
            var skipped = TrainedRun.Train(shape with { Accumulation = 2 }, null,
                new[] { "--cfg-options", $"data_files={Data("half", true, false)}" }.Concat(options).ToArray());
            var alone = TrainedRun.Train(shape, null,
                new[] { "--cfg-options", $"data_files={Data("valid", false)}" }.Concat(options).ToArray());
            Assert.Contains("warning: step 1: 1 of its 2 micro-batch(es) hold no targets (every label masked) and are skipped.", skipped.Output);
            Assert.Equal(alone.Steps[0].Loss, skipped.Steps[0].Loss, 12);
            Assert.Equal(alone.Steps[0].GradNorm, skipped.Steps[0].GradNorm, 12);
            var a = alone.Parameters(1);
            foreach (var (name, value) in skipped.Parameters(1))
                Assert.True(TrainedRun.RelativeDifference(value, a[name]) == 0, name);
        }
    }
}
