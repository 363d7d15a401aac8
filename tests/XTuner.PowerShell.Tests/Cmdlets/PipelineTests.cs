using System.IO;
using System.Linq;
using XTuner.PowerShell.Tests.Hosting;
using Xunit;

namespace XTuner.PowerShell.Tests.Cmdlets
{
    /// <summary>Configs flow through the pipeline as plain objects; transforms return changed copies.</summary>
    public sealed class PipelineTests : IClassFixture<ModuleSession>
    {
        private readonly ModuleSession _ps;

        public PipelineTests(ModuleSession ps) => _ps = ps;

        [Fact]
        public void Configs_are_XTunerConfig_objects_not_text()
        {
            var config = Assert.Single(_ps.Run("Get-XTunerConfig tiny-llama").Output);
            Assert.Equal("XTuner.Core.Configuration.XTunerConfig", config.BaseObject.GetType().FullName);
        }

        [Theory]
        [InlineData("Set-SequenceParallel -Size 4")]
        [InlineData("Set-XTunerConfig -MaxSteps 3")]
        public void A_transform_returns_a_changed_copy_and_leaves_the_input_as_it_was(string transform)
        {
            var result = _ps.Run(
                "$in = Get-XTunerConfig llama2-7b-full-32k-sp1; $before = [XTuner.Core.Configuration.ConfigYaml]::Serialize($in); " +
                $"$out = $in | {transform}; " +
                "[object]::ReferenceEquals($in, $out); $before -eq [XTuner.Core.Configuration.ConfigYaml]::Serialize($in); $before -eq [XTuner.Core.Configuration.ConfigYaml]::Serialize($out)");
            Assert.True(result.Errors.Count == 0 && result.Terminating == null, result.Describe());
            Assert.Equal(new object[] { false, true, false }, result.Output.Select(o => o.BaseObject));
        }

        [Fact]
        public void Every_config_of_a_pipeline_is_processed_in_order()
        {
            var result = _ps.Run("Get-XTunerConfig llama2-7b* | Set-SequenceParallel 8 | Set-XTunerConfig -MaxSteps 10 | ForEach-Object { '{0} {1} {2}' -f $_.Name, $_.SequenceParallelSize, $_.MaxSteps }");
            Assert.True(result.Errors.Count == 0, result.Describe());
            Assert.Equal(new[]
            {
                "llama2-7b-full-128k-sp8 8 10", "llama2-7b-full-1m-sp16 8 10", "llama2-7b-full-256k-sp8 8 10",
                "llama2-7b-full-32k-sp1 8 10", "llama2-7b-full-8k-sp1 8 10",
            }, result.Output.Select(o => o.ToString()));
        }

        [Fact]
        public void A_refused_config_drops_out_and_the_rest_continue()
        {
            var result = _ps.Run("Get-XTunerConfig tiny-llama, llama2-7b-full-32k-sp1, tiny-llama-sp2 | Set-SequenceParallel 16 -GpusPerNode 16 | ForEach-Object Name");
            Assert.Equal(new[] { "llama2-7b-full-32k-sp1" }, result.Output.Select(o => o.ToString()));
            Assert.Equal(2, result.Errors.Count);
            Assert.All(result.Errors, e => Assert.StartsWith("XTunerInvalidSequenceParallelSize,", e.FullyQualifiedErrorId));
        }

        [Fact]
        public void The_README_pipeline_writes_a_config_with_two_way_sequence_parallelism()
        {
            var result = _ps.Run(
                "$null = $ExecutionContext.SessionState.Path.SetLocation($Folder); " +
                "New-XTunerConfig -Template tiny-llama | Set-SequenceParallel -Size 2 -Verbose | Export-XTunerConfig -Path ./my.yaml; " +
                "Get-XTunerConfig -Path ./my.yaml | ForEach-Object { '{0} {1}' -f $_.SequenceParallelSize, $_.WorldSize }");
            Assert.True(result.Errors.Count == 0 && result.Terminating == null, result.Describe());
            Assert.Equal("2 2", Assert.Single(result.Output).ToString());
            Assert.Contains(result.Verbose, v => v.Message == "gpus_per_node set to 2: sequence_parallel_size 2 needs 2 ranks and the config had one.");
            Assert.True(File.Exists(Path.Combine(_ps.Folder, "my.yaml")));
        }

        [Fact]
        public void Test_XTunerConfig_Quiet_filters_a_pipeline_as_its_help_example_does()
        {
            var result = _ps.Run(
                "$broken = Get-XTunerConfig tiny-llama | Set-XTunerConfig -Name broken -DataPath $Folder/missing.jsonl; " +
                "@(Get-XTunerConfig) + $broken | Where-Object { -not ($_ | Test-XTunerConfig -Quiet) } | ForEach-Object Name");
            Assert.True(result.Errors.Count == 0 && result.Terminating == null, result.Describe());
            Assert.Equal("broken", Assert.Single(result.Output).ToString());
        }
    }
}
