using System.IO;
using XTuner.PowerShell.Tests.Hosting;
using Xunit;

namespace XTuner.PowerShell.Tests.Cmdlets
{
    /// <summary>Export-XTunerConfig honours ShouldProcess: -WhatIf and $WhatIfPreference write nothing.</summary>
    public sealed class WhatIfTests : IClassFixture<ModuleSession>
    {
        private readonly ModuleSession _ps;

        public WhatIfTests(ModuleSession ps) => _ps = ps;

        [Theory]
        [InlineData("Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path $Folder/whatif.yaml -WhatIf")]
        [InlineData("$WhatIfPreference = $true; Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path $Folder/whatif.yaml")]
        [InlineData("Get-XTunerConfig tiny* | Export-XTunerConfig -Path $Folder -WhatIf")]
        public void WhatIf_writes_no_file_and_no_error(string script)
        {
            var result = _ps.Run(script);
            Assert.True(result.Errors.Count == 0 && result.Terminating == null, result.Describe());
            Assert.Empty(result.Output);
            Assert.Empty(Directory.GetFileSystemEntries(_ps.Folder, "*.yaml"));
        }

        [Fact]
        public void WhatIf_with_PassThru_returns_nothing()
        {
            Assert.Empty(_ps.Run("Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path $Folder/whatif.yaml -WhatIf -PassThru").Output);
        }

        [Fact]
        public void Confirm_false_writes()
        {
            var result = _ps.Run("Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path $Folder/confirmed.yaml -Confirm:$false -PassThru");
            Assert.Single(result.Output);
            Assert.True(File.Exists(Path.Combine(_ps.Folder, "confirmed.yaml")));
            File.Delete(Path.Combine(_ps.Folder, "confirmed.yaml"));
        }
    }
}
