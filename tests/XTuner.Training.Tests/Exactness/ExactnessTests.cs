using System;
using System.Collections.Concurrent;
using System.Linq;
using XTuner.Training.Models.Attention;
using XTuner.Training.Tests.Distributed;
using Xunit;
using Xunit.Abstractions;

namespace XTuner.Training.Tests.Exactness
{
    /// <summary>
    /// Sequence parallelism, data parallelism, ZeRO and gradient accumulation give the same training as one process on
    /// the same global batch: loss, every parameter's gradient (summed over the world) and every parameter after each
    /// AdamW step, in float32 with real rank processes on the CPU backend.
    /// </summary>
    [Collection(DistributedCollection.Name)]
    public class ExactnessTests
    {
        private const double LossTolerance = 1e-5;
        private const double GradientTolerance = 1e-5;
        private const double ParameterTolerance = 1e-5;

        /// <summary>
        /// AdamW normalises each element's update (about lr * g / (|g| + eps)), so where a gradient is within a few
        /// rounding errors of zero (gradients agree to ~5e-6 of their tensor's largest), a different but equally exact
        /// summation order can even flip the step's sign. Elements whose reference gradient fell below this fraction
        /// of its tensor's largest in some step are bounded by lr per step instead of the parameter tolerance; exactly
        /// zero gradients (tokens absent from the batch) are compared strictly.
        /// </summary>
        private const float NoiseFloor = 1e-4f;

        /// <summary>
        /// The same, relative to the largest gradient of the whole model: a tensor whose gradient is zero in exact
        /// arithmetic (the key projection's bias: softmax ignores a shift shared by all keys) holds only rounding noise,
        /// which its own largest element cannot reveal.
        /// </summary>
        private const float GlobalNoiseFloor = 1e-6f;
        private const double LearningRate = 1e-3;
        private static readonly ConcurrentDictionary<RunShape, TrainedRun> References = new ConcurrentDictionary<RunShape, TrainedRun>();
        private readonly ITestOutputHelper _log;

        public ExactnessTests(ITestOutputHelper log) => _log = log;

        /// <summary>One process, the whole global batch in one micro-batch, weights kept whole in the compute dtype (so every run that casts them per layer, the default, is checked against the copy).</summary>
        private static TrainedRun Reference(RunShape shape) => References.GetOrAdd(
            shape with { World = 1, SequenceParallel = 1, ZeroStage = 0, Accumulation = 1, Checkpointing = false, RecomputedLayers = null, RecomputeAttention = null, HeadPadding = false,
                         OffloadOptimizer = false, OffloadActivations = "false", MlpTiles = "1", CastWeights = "false",
                         BatchSize = shape.BatchSize * shape.Accumulation * (shape.World / shape.SequenceParallel) },
            s => TrainedRun.Train(s));

        private TrainedRun AssertSameTraining(RunShape shape)
        {
            var reference = Reference(shape);
            var run = TrainedRun.Train(shape);
            Assert.Equal(shape.Steps, run.Steps.Count);
            double worstLoss = 0, worstGrad = 0, worstParam = 0, worstNoise = 0;
            string worstGradName = "", worstParamName = "";
            long noiseElements = 0, elements = 0;
            // Elements whose reference gradient stayed above the float32 rounding floor in every step so far.
            var significant = new System.Collections.Generic.Dictionary<string, TorchSharp.torch.Tensor>();
            for (int step = 1; step <= shape.Steps; step++)
            {
                var expectedLoss = reference.Steps[step - 1].Loss;
                var loss = run.Steps[step - 1].Loss;
                worstLoss = Math.Max(worstLoss, Math.Abs(loss - expectedLoss) / Math.Max(Math.Abs(expectedLoss), 1e-12));
                Assert.Equal(reference.Steps[step - 1].TargetTokens, run.Steps[step - 1].TargetTokens);
                var grads = run.Gradients(step);
                var expectedGrads = reference.Gradients(step);
                Assert.Equal(expectedGrads.Keys.OrderBy(k => k), grads.Keys.OrderBy(k => k));
                float globalMax = expectedGrads.Values.Max(g => g.abs().max().item<float>());
                foreach (var (name, expected) in expectedGrads)
                {
                    var d = TrainedRun.RelativeDifference(grads[name], expected);
                    if (d > worstGrad) { worstGrad = d; worstGradName = $"{name} at step {step}"; }
                    var magnitude = expected.abs();
                    var above = (magnitude >= NoiseFloor * magnitude.max().item<float>()).logical_and(magnitude >= GlobalNoiseFloor * globalMax)
                        .logical_or(expected == 0);
                    significant[name] = significant.TryGetValue(name, out var s) ? s.logical_and(above) : above;
                }
                var parameters = run.Parameters(step);
                foreach (var (name, expected) in reference.Parameters(step))
                {
                    var diff = (parameters[name] - expected).abs();
                    var mask = significant[name];
                    // A tensor that starts at zero (a bias) is as large as the few AdamW steps it took: judge it against
                    // at least one step's largest move (lr), not against its own near-zero size.
                    double scale = Math.Max(expected.abs().max().item<float>(), LearningRate);
                    var d = diff.masked_fill(mask.logical_not(), 0).max().item<float>() / scale;
                    if (d > worstParam) { worstParam = d; worstParamName = $"{name} at step {step}"; }
                    worstNoise = Math.Max(worstNoise, diff.masked_fill(mask, 0).max().item<float>());
                    if (step == shape.Steps)
                    {
                        elements += mask.numel();
                        noiseElements += mask.numel() - mask.sum().item<long>();
                    }
                }
            }
            _log.WriteLine($"{shape}: loss {worstLoss:E2}, gradients {worstGrad:E2} ({worstGradName}), parameters {worstParam:E2} ({worstParamName}); " +
                           $"{noiseElements} of {elements} elements with noise-level gradients moved at most {worstNoise:E2}");
            Assert.True(worstLoss <= LossTolerance, $"loss differs by {worstLoss:E2}");
            Assert.True(worstGrad <= GradientTolerance, $"gradient {worstGradName} differs by {worstGrad:E2}");
            Assert.True(worstParam <= ParameterTolerance, $"parameter {worstParamName} differs by {worstParam:E2}");
            // AdamW moves an element by at most about lr per step whatever its gradient: the bound for the rest.
            Assert.True(worstNoise <= LearningRate * shape.Steps, $"an element with a noise-level gradient moved {worstNoise:E2}");
            Assert.True(noiseElements * 20 < elements, $"{noiseElements} of {elements} elements have noise-level gradients: the comparison would be too weak");
            return run;
        }

        [Fact]
        public void SequenceParallel2EqualsOneProcess() =>
            AssertSameTraining(new RunShape(World: 2, SequenceParallel: 2));

        [Fact]
        public void SequenceParallel4WithFewerKeyValueHeadsAndPaddingEqualsOneProcess() =>
            AssertSameTraining(new RunShape(World: 4, SequenceParallel: 4, MaxLength: 130, KeyValueHeads: 2));

        [Fact]
        public void SequenceParallel2WithKeyValueHeadsAMultipleAndCheckpointingEqualsOneProcess() =>
            AssertSameTraining(new RunShape(World: 2, SequenceParallel: 2, KeyValueHeads: 4, Checkpointing: true));

        [Fact]
        public void SequenceParallel2TimesDataParallel2EqualsOneProcessWithTheGlobalBatch() =>
            AssertSameTraining(new RunShape(World: 4, SequenceParallel: 2));

        [Fact]
        public void HeadPaddingEqualsOneProcess() =>
            AssertSameTraining(new RunShape(World: 4, SequenceParallel: 4, Heads: 6, KeyValueHeads: 2, HeadPadding: true));

        [Theory]
        [InlineData("qwen2")]
        [InlineData("internlm2")]
        [InlineData("cohere")]
        [InlineData("mistral")]
        public void SequenceParallel2WithCheckpointingEqualsOneProcessForEveryArchitecture(string architecture) =>
            AssertSameTraining(new RunShape(World: 2, SequenceParallel: 2, Checkpointing: true, Architecture: architecture));

        /// <summary>Recomputed layers that keep attention (its graph through the Ulysses all-to-all) under ZeRO-3's gathers.</summary>
        [Fact]
        public void SequenceParallel2WithKeptAttentionAndZero3EqualsOneProcess() =>
            Assert.Contains("2 of 2 recomputed layers keep attention's inputs and output",
                AssertSameTraining(new RunShape(World: 2, SequenceParallel: 2, Checkpointing: true, RecomputeAttention: "false", ZeroStage: 3)).Output);

        /// <summary>Kept attention over packed documents and a sliding window, the first layer rerunning it and the second not.</summary>
        [Fact]
        public void SequenceParallel2WithKeptAttentionOverDocumentsAndAWindowEqualsOneProcess() =>
            Assert.Contains("1 of 2 recomputed layers keep attention's inputs and output", AssertSameTraining(new RunShape(World: 2, SequenceParallel: 2, Checkpointing: true, RecomputeAttention: "1", Architecture: "mistral",
                SlidingWindow: 16, VarlenAttention: true)).Output);

        [Fact]
        public void DataParallel2EqualsOneProcessWithBatch2() =>
            AssertSameTraining(new RunShape(World: 2));

        [Fact]
        public void GradientAccumulationEqualsOneBigBatch() =>
            AssertSameTraining(new RunShape(Accumulation: 2));

        [Fact]
        public void DataParallelWithAccumulationEqualsOneProcess() =>
            AssertSameTraining(new RunShape(World: 2, Accumulation: 2));

        [Theory]
        [InlineData(1)]
        [InlineData(2)]
        public void ZeroShardingEqualsOneProcess(int stage) =>
            AssertSameTraining(new RunShape(World: 2, ZeroStage: stage));

        [Fact]
        public void ZeroStage2WithAccumulationEqualsOneProcess() =>
            AssertSameTraining(new RunShape(World: 2, ZeroStage: 2, Accumulation: 2));

        [Fact]
        public void ZeroStage3EqualsOneProcess() =>
            AssertSameTraining(new RunShape(World: 2, ZeroStage: 3, Checkpointing: true));

        [Fact]
        public void ZeroStage3WithSequenceParallelAndAccumulationEqualsOneProcess() =>
            AssertSameTraining(new RunShape(World: 4, SequenceParallel: 2, ZeroStage: 3, Checkpointing: true, Accumulation: 2));
    

        [Theory]
        [InlineData(0)]
        [InlineData(1)]
        [InlineData(2)]
        public void OffloadedOptimizerEqualsOneProcess(int stage) =>
            AssertSameTraining(new RunShape(World: 2, ZeroStage: stage, OffloadOptimizer: true));

        [Theory]
        [InlineData("true")]
        [InlineData("1")]
        public void OffloadedActivationsEqualOneProcess(string layers) =>
            AssertSameTraining(new RunShape(World: 2, SequenceParallel: 2, Checkpointing: true, OffloadActivations: layers));

        [Theory]
        [InlineData("1", "false")]
        [InlineData("1", "true")]
        [InlineData("auto", "false")]
        public void RecomputingSomeLayersEqualsOneProcess(string layers, string offload) =>
            AssertSameTraining(new RunShape(World: 2, SequenceParallel: 2, RecomputedLayers: layers, OffloadActivations: offload));

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void TiledMlpEqualsOneProcess(bool checkpointing) =>
            AssertSameTraining(new RunShape(World: 2, SequenceParallel: 2, Checkpointing: checkpointing, MlpTiles: "3"));

        /// <summary>Kept attention in layers whose inputs wait in host memory, over accumulated micro-batches and MLP tiles.</summary>
        [Fact]
        public void KeptAttentionWithOffloadedActivationsAccumulationAndTilesEqualsOneProcess() =>
            AssertSameTraining(new RunShape(World: 2, SequenceParallel: 2, Checkpointing: true, Accumulation: 2, OffloadActivations: "true",
                MlpTiles: "3", RecomputeAttention: "false"));

        [Fact]
        public void EveryMemoryOptionWithSequenceParallelZero3AndAccumulationEqualsOneProcess() =>
            AssertSameTraining(new RunShape(World: 4, SequenceParallel: 2, ZeroStage: 3, Checkpointing: true, Accumulation: 2,
                OffloadOptimizer: true, OffloadActivations: "auto", MlpTiles: "3"));
    

        [Theory]
        [InlineData(2, false)]
        [InlineData(4, false)]
        [InlineData(2, true)]
        public void SequenceParallelOverPackedDocumentsWithoutIsolationEqualsOneProcess(int sp, bool checkpointing) =>
            AssertSameTraining(new RunShape(World: sp, SequenceParallel: sp, Checkpointing: checkpointing, VarlenAttention: false));

        [Fact]
        public void IsolatedDocumentsWithSequenceParallelDataParallelZero3AndAccumulationEqualOneProcess() =>
            AssertSameTraining(new RunShape(World: 4, SequenceParallel: 2, ZeroStage: 3, Checkpointing: true, Accumulation: 2, VarlenAttention: true));

        [Fact]
        public void IsolatedDocumentsAtSequenceParallel4EqualOneProcess() =>
            AssertSameTraining(new RunShape(World: 4, SequenceParallel: 4, MaxLength: 130, VarlenAttention: true));

        [Theory]
        [InlineData("mistral", 2)]
        [InlineData("mistral", 4)]
        public void SlidingWindowsWithIsolatedDocumentsAndSequenceParallelEqualOneProcess(string architecture, int sp) =>
            AssertSameTraining(new RunShape(World: sp, SequenceParallel: sp, Checkpointing: true, Architecture: architecture, SlidingWindow: 16));
    }
}
