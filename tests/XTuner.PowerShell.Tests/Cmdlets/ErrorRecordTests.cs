using System.Management.Automation;
using XTuner.PowerShell.Tests.Hosting;
using Xunit;

namespace XTuner.PowerShell.Tests.Cmdlets
{
    /// <summary>
    /// Every error a config cmdlet writes: non-terminating, a stable ErrorId (FullyQualifiedErrorId is 'Id,Cmdlet class'),
    /// the category scripts and -ErrorAction rely on, and the object it is about as target.
    /// </summary>
    public sealed class ErrorRecordTests : IClassFixture<ModuleSession>
    {
        private readonly ModuleSession _ps;

        public ErrorRecordTests(ModuleSession ps) => _ps = ps;

        [Theory]
        [InlineData("Get-XTunerConfig no-such-config", "XTunerConfigNotFound", "GetXTunerConfigCommand", ErrorCategory.ObjectNotFound, "no-such-config")]
        [InlineData("New-XTunerConfig -Template no-such-config", "XTunerConfigNotFound", "NewXTunerConfigCommand", ErrorCategory.ObjectNotFound, "no-such-config")]
        [InlineData("Get-XTunerConfig -Path $Folder/missing.yaml", "XTunerConfigFileNotFound", "GetXTunerConfigCommand", ErrorCategory.ObjectNotFound, "{Folder}/missing.yaml")]
        [InlineData("New-XTunerConfig -Option @{ nope = 1 }", "XTunerUnknownConfigKey", "NewXTunerConfigCommand", ErrorCategory.InvalidArgument, null)]
        public void Errors_about_names_and_files_target_the_name_or_file(string script, string id, string cmdlet, ErrorCategory category, string? target)
        {
            var error = SingleError(script);
            Assert.Equal($"{id},XTuner.PowerShell.Commands.{cmdlet}", error.FullyQualifiedErrorId);
            Assert.Equal(category, error.CategoryInfo.Category);
            Assert.Equal(target?.Replace("{Folder}", _ps.Folder), error.TargetObject?.ToString());
        }

        [Theory]
        [InlineData("Get-XTunerConfig tiny-llama | Set-SequenceParallel 3", "XTunerInvalidSequenceParallelSize", "SetSequenceParallelCommand")]
        [InlineData("Get-XTunerConfig tiny-llama | Set-XTunerConfig -Option @{ max_lenght = 1 }", "XTunerUnknownConfigKey", "SetXTunerConfigCommand")]
        [InlineData("Get-XTunerConfig tiny-llama | Set-XTunerConfig -Option @{ max_length = 'x' }", "XTunerInvalidConfigValue", "SetXTunerConfigCommand")]
        [InlineData("Get-XTunerConfig tiny-llama | Set-XTunerConfig -MaxLength 8192", "XTunerSequenceTooLong", "SetXTunerConfigCommand")]
        public void Errors_about_a_config_target_the_config_from_the_pipeline(string script, string id, string cmdlet)
        {
            var error = SingleError(script);
            Assert.Equal($"{id},XTuner.PowerShell.Commands.{cmdlet}", error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
            Assert.Equal("XTuner.Core.Configuration.XTunerConfig", error.TargetObject?.GetType().FullName);
            Assert.Equal("tiny-llama", error.TargetObject!.ToString());
            Assert.Equal("XTuner.Core.Configuration.XTunerConfigException", error.Exception.GetType().FullName);
        }

        [Fact]
        public void An_existing_file_is_a_ResourceExists_error_on_that_file()
        {
            System.IO.File.WriteAllText(System.IO.Path.Combine(_ps.Folder, "exists.yaml"), "taken");
            var error = SingleError("Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path $Folder/exists.yaml");
            Assert.Equal("XTunerConfigFileExists,XTuner.PowerShell.Commands.ExportXTunerConfigCommand", error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.ResourceExists, error.CategoryInfo.Category);
            Assert.Equal(System.IO.Path.Combine(_ps.Folder, "exists.yaml"), error.TargetObject);
            Assert.Equal("XTuner.Core.XTunerException", error.Exception.GetType().FullName);
            Assert.Contains("-Force", error.Exception.Message);
        }

        [Fact]
        public void A_file_that_cannot_be_written_is_a_WriteError_on_that_file()
        {
            var blocker = System.IO.Path.Combine(_ps.Folder, "blocker");
            System.IO.File.WriteAllText(blocker, "a file where a folder is needed");
            var error = SingleError("Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path $Folder/blocker/tiny.yaml");
            Assert.Equal("XTunerConfigFileWriteFailed,XTuner.PowerShell.Commands.ExportXTunerConfigCommand", error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.WriteError, error.CategoryInfo.Category);
            Assert.Equal(System.IO.Path.Combine(blocker, "tiny.yaml"), error.TargetObject);
        }

        [Fact]
        public void Every_kind_of_failure_is_a_PowerShell_error_category_of_the_same_name()
        {
            // Core's types are seen through the module, as scripts see them.
            var kinds = _ps.Run("[enum]::GetNames([XTuner.Core.ErrorKind])").Objects<string>();
            Assert.Contains("ObjectNotFound", kinds);
            foreach (var kind in kinds)
                Assert.True(System.Enum.TryParse<ErrorCategory>(kind, out _), $"ErrorCategory has no member {kind}");
        }

        [Fact]
        public void ErrorAction_Stop_makes_them_terminating_with_the_same_id()
        {
            var result = _ps.Run("Get-XTunerConfig no-such-config -ErrorAction Stop; 'not reached'");
            Assert.Equal("XTunerConfigNotFound,XTuner.PowerShell.Commands.GetXTunerConfigCommand", result.Terminating?.FullyQualifiedErrorId);
            Assert.Empty(result.Output);
        }

        [Fact]
        public void The_message_says_what_to_change()
        {
            var error = SingleError("Get-XTunerConfig tiny-llama | Set-SequenceParallel 3");
            Assert.Equal("sequence_parallel_size 3 does not divide the model's 8 attention heads. Use one of 1, 2, 4, 8, " +
                         "or set sequence_parallel_head_padding: true to pad to 9 heads (12.5% more attention work).", error.Exception.Message);
        }

        private ErrorRecord SingleError(string script)
        {
            var result = _ps.Run(script);
            Assert.Null(result.Terminating);
            Assert.Empty(result.Output);
            return Assert.Single(result.Errors);
        }
    }
}
