using System.Linq;
using XTuner.PowerShell.Tests.Hosting;
using Xunit;

namespace XTuner.PowerShell.Tests.Cmdlets
{
    /// <summary>How PowerShell binds the cmdlets' parameters: positions, sets, aliases, validation, conversion.</summary>
    public sealed class ParameterBindingTests : IClassFixture<ModuleSession>
    {
        private readonly ModuleSession _ps;

        public ParameterBindingTests(ModuleSession ps) => _ps = ps;

        [Theory]
        [InlineData("Get-XTunerConfig tiny-llama", "tiny-llama")]
        [InlineData("New-XTunerConfig tiny-llama", "tiny-llama")]
        [InlineData("Get-XTunerConfig tiny-llama | Set-SequenceParallel 2", "tiny-llama")]
        public void The_first_positional_parameter_binds(string script, string name)
        {
            var result = _ps.Run(script);
            Assert.True(result.Terminating == null && result.Errors.Count == 0, result.Describe());
            Assert.Equal(name, Assert.Single(result.Output).Properties["Name"].Value);
        }

        [Fact]
        public void Aliases_bind_like_their_parameters()
        {
            var result = _ps.Run("New-XTunerConfig -NProcPerNode 3 -Lr 0.5 -Precision Float32 -Device cuda");
            var config = Assert.Single(result.Output);
            Assert.Equal(3, config.Properties["GpusPerNode"].Value);
            Assert.Equal(0.5, config.Properties["Lr"].Value);
            Assert.Equal("Float32", config.Properties["DType"].Value.ToString());
            Assert.Equal("Cuda", config.Properties["Device"].Value.ToString());
        }

        [Theory]
        [InlineData("Get-XTunerConfig -Name tiny-llama -Path ./x.yaml", "AmbiguousParameterSet,XTuner.PowerShell.Commands.GetXTunerConfigCommand")]
        [InlineData("Get-XTunerConfig tiny-llama | Export-XTunerConfig", "MissingMandatoryParameter,XTuner.PowerShell.Commands.ExportXTunerConfigCommand")]
        [InlineData("Get-XTunerConfig tiny-llama | Set-SequenceParallel -Size two", "CannotConvertArgumentNoMessage,XTuner.PowerShell.Commands.SetSequenceParallelCommand")]
        [InlineData("New-XTunerConfig -ZeroStage 4", "ParameterArgumentValidationError,XTuner.PowerShell.Commands.NewXTunerConfigCommand")]
        [InlineData("New-XTunerConfig -MaxLength 0", "ParameterArgumentValidationError,XTuner.PowerShell.Commands.NewXTunerConfigCommand")]
        [InlineData("New-XTunerConfig -Device Tpu", "CannotConvertArgumentNoMessage,XTuner.PowerShell.Commands.NewXTunerConfigCommand")]
        [InlineData("New-XTunerConfig -Template ''", "ParameterArgumentValidationError,XTuner.PowerShell.Commands.NewXTunerConfigCommand")]
        [InlineData("Get-XTunerConfig tiny-llama | Set-XTunerConfig -GpusPerNode 0", "ParameterArgumentValidationError,XTuner.PowerShell.Commands.SetXTunerConfigCommand")]
        public void A_binding_error_abandons_the_command_before_it_runs(string script, string errorId)
        {
            // Binding errors end the statement, not the script: they arrive as errors, and the command writes nothing.
            var result = _ps.Run(script);
            Assert.Null(result.Terminating);
            Assert.Equal(errorId, Assert.Single(result.Errors).FullyQualifiedErrorId);
            Assert.Empty(result.Output);
        }

        [Fact]
        public void Input_that_is_not_a_config_is_not_bound()
        {
            var result = _ps.Run("'tiny-llama' | Set-SequenceParallel 2");
            Assert.Equal("InputObjectNotBound,XTuner.PowerShell.Commands.SetSequenceParallelCommand", Assert.Single(result.Errors).FullyQualifiedErrorId);
        }

        [Fact]
        public void Files_bind_to_Path_by_their_FullName()
        {
            var result = _ps.Run(
                "$file = Get-XTunerConfig tiny-llama-sp2 | Export-XTunerConfig -Path $Folder/bound.yaml -PassThru; " +
                "$file | Get-XTunerConfig; [pscustomobject]@{ PSPath = $file.FullName } | Get-XTunerConfig");
            Assert.True(result.Errors.Count == 0 && result.Terminating == null, result.Describe());
            Assert.Equal(new object[] { "tiny-llama-sp2", "tiny-llama-sp2" }, result.Output.Select(o => o.Properties["Name"].Value));
        }

        [Fact]
        public void Enum_parameters_take_their_names_in_any_case_and_complete()
        {
            var result = _ps.Run("(New-XTunerConfig -DatasetFormat cHaT).DatasetFormat.ToString(); " +
                                 "(TabExpansion2 -inputScript 'New-XTunerConfig -Device ' -cursorColumn 25).CompletionMatches.CompletionText");
            Assert.Equal(new[] { "Chat", "Cpu", "Cuda" }, result.Output.Select(o => o.ToString()));
        }
    }
}
