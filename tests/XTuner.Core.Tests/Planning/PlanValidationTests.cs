using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Core.Planning;
using Xunit;
using Xunit.Abstractions;

namespace XTuner.Core.Tests.Planning
{
    /// <summary>
    /// Every benchmark recorded in examples/benchmarks/results (read here, at test time) is a case: the planner's peak
    /// GPU memory must be within 10% of the measured one, and on CUDA its step time within 15%.
    /// </summary>
    public class PlanValidationTests
    {
        private readonly ITestOutputHelper _output;

        public PlanValidationTests(ITestOutputHelper output)
        {
            _output = output;
        }

        private static string Results => Path.Combine(RepositoryRoot.Path, PlanValidation.ResultsFolder);

        public static IEnumerable<object[]> Cases() =>
            PlanValidation.Cases(Results).Select(c => new object[] { c.File, c.Line });

        [Theory]
        [MemberData(nameof(Cases))]
        public void ThePredictionIsCloseToTheMeasurement(string file, int line)
        {
            var benchmark = PlanValidation.Cases(Results).Single(c => c.File == file && c.Line == line);
            var result = PlanValidation.Evaluate(benchmark);
            _output.WriteLine(PlanValidation.Table(new[] { result }));
            Assert.True(Math.Abs(result.PeakErrorPercent) <= 10,
                $"{benchmark}: predicted peak {result.PredictedPeakGib:F2} GiB, measured {benchmark.MeasuredPeakGib:F2} ({result.PeakErrorPercent:F1}%)");
            if (result.StepErrorPercent is double e)
                Assert.True(Math.Abs(e) <= 15,
                    $"{benchmark}: predicted step {result.PredictedStepSeconds:F2} s, measured {benchmark.MeasuredStepSeconds:F2} ({e:F1}%)");
        }

        [Fact]
        public void EveryRecordedH200ResultWithAMemoryFigureIsACase()
        {
            var cases = PlanValidation.Cases(Results);
            _output.WriteLine(PlanValidation.Table(cases.Select(c => PlanValidation.Evaluate(c))));
            // 7B at 8k-64k (2026-11-24), the 1.1B shape at 8k-128k, and the 2026-12-02 offload runs.
            Assert.True(cases.Count >= 10, $"only {cases.Count} cases were read from {Results}");
            Assert.Contains(cases, c => c.Options.Contains("offload_optimizer=true"));
            Assert.Contains(cases, c => c.Options.Contains("model.hidden_size=2048"));
            Assert.All(cases, c => Assert.NotNull(c.MeasuredStepSeconds));
        }

        [Fact]
        public void ACommandAfterTheScriptThatRanItIsRead()
        {
            var (config, options, ranks, device) = PlanValidation.ParseCommand(
                "examples/benchmarks/long-context.sh \"bash .gpu/run.sh app/xtuner.dll\" $OUT b   # xtuner benchmark llama2-7b-full-32k-sp1 --device cuda --nproc-per-node 1 --lengths 32k --steps 3 --cfg-options zero_stage=0 offload_optimizer=true");
            Assert.Equal("llama2-7b-full-32k-sp1", config);
            Assert.Equal(new[] { "zero_stage=0", "offload_optimizer=true" }, options);
            Assert.Equal(1, ranks);
            Assert.Equal("cuda", device);
        }

        [Fact]
        public void ASupersededLineIsHistoryNotACase()
        {
            const string line = "{\"command\":\"xtuner benchmark tiny-llama --device cuda --nproc-per-node 1 --lengths 1k\",\"ok\":true,\"length\":1024,\"max_memory_gib\":1.0,\"step_time_s\":0.1";
            var cases = CasesOf(line + "}", line + ",\"superseded\":\"by the line above\"}", line + ",\"not_modelled\":\"sliding windows\"}");
            Assert.Equal(new[] { 1 }, cases.Select(c => c.Line));
        }

        /// <summary>The cases of a results file holding <paramref name="lines"/> (written to a temporary folder, removed after).</summary>
        private static IReadOnlyList<BenchmarkCase> CasesOf(params string[] lines)
        {
            var folder = Path.Combine(Path.GetTempPath(), "xtuner-plan-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            try
            {
                File.WriteAllLines(Path.Combine(folder, "r.jsonl"), lines);
                return PlanValidation.Cases(folder);
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
        }

        [Fact]
        public void ALineIsPredictedWithTheKernelsItsRunUsedAndOneWithoutTheFieldRanWithoutThem()
        {
            const string line = "{\"command\":\"xtuner benchmark llama2-7b-full-32k-sp1 --device cuda --nproc-per-node 1 --lengths 8k --cfg-options zero_stage=0\",\"ok\":true,\"length\":8192,\"max_memory_gib\":107.0,\"step_time_s\":1.2";
            var cases = CasesOf(line + "}", line + ",\"fused_kernels\":\"false\"}", line + ",\"fused_kernels\":\"true\"}", line + ",\"fused_kernels\":\"auto\"}");
            var seconds = cases.Select(c => PlanValidation.Evaluate(c).PredictedStepSeconds).ToList();
            Assert.Equal(seconds[0], seconds[1]);
            Assert.Equal(seconds[2], seconds[3]);
            // The kernels save the norms' and SwiGLU's share and the optimizer's (fused_elementwise_factor, fused_optimizer_factor).
            Assert.InRange(seconds[2] / seconds[0], 0.78, 0.88);
            Assert.Equal("zero_stage=0", Assert.Single(cases[2].Options));
        }
    }
}
