BeforeDiscovery {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
    $catalogue = @(Get-XTunerConfig | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
}

Describe 'Test-XTunerConfig' {
    It 'finds no error in the built-in config <Name>' -TestCases $catalogue {
        $errors = @(Test-XTunerConfig -Name $Name | Where-Object { "$($_.Severity)" -eq 'Error' })
        $errors.Message | Should -BeNullOrEmpty
    }

    It 'returns nothing for a sound config' {
        Get-XTunerConfig tiny-llama | Test-XTunerConfig | Should -BeNullOrEmpty
    }

    It 'returns one finding per problem, with key, message and ErrorId' {
        $findings = Get-XTunerConfig tiny-llama |
            Set-XTunerConfig -DataPath "$TestDrive/missing.jsonl" -Tokenizer "$TestDrive/no-tokenizer" |
            Test-XTunerConfig
        $findings | Should -HaveCount 2
        $findings | Should -BeOfType XTuner.Core.Configuration.ConfigFinding
        $findings.Key | Should -Be @('data_files', 'tokenizer')
        $findings.ErrorId | Should -Be @('XTunerPathNotFound', 'XTunerPathNotFound')
        $findings[0].Message | Should -BeLike "*missing.jsonl' does not exist*"
        "$($findings[0].Severity)" | Should -Be 'Error'
    }

    It 'gives the file and line of each finding in a config file' {
        [System.IO.File]::WriteAllText("$TestDrive/typo.yaml", "name: typo`nmax_lenght: 512`n")
        $finding = Test-XTunerConfig -Path "$TestDrive/typo.yaml"
        $finding.ErrorId | Should -Be 'XTunerUnknownConfigKey'
        $finding.File | Should -Be "$TestDrive/typo.yaml"
        $finding.Line | Should -Be 2
        $finding.Location | Should -Be "$TestDrive/typo.yaml:2:1"
    }

    It 'returns $true or $false with -Quiet' {
        Get-XTunerConfig tiny-llama | Test-XTunerConfig -Quiet | Should -BeTrue
        Get-XTunerConfig tiny-llama | Set-XTunerConfig -DataPath "$TestDrive/missing.jsonl" | Test-XTunerConfig -Quiet | Should -BeFalse
    }

    It 'counts warnings as sound with -Quiet' {
        $padded = Get-XTunerConfig qwen2-7b-full-128k-sp8
        @($padded | Test-XTunerConfig | Where-Object { "$($_.Severity)" -eq 'Warning' }) | Should -Not -BeNullOrEmpty
        $padded | Test-XTunerConfig -Quiet | Should -BeTrue
    }

    It 'reports an unknown -Name as a finding with XTunerConfigNotFound' {
        $finding = Test-XTunerConfig -Name no-such-config
        $finding.ErrorId | Should -Be 'XTunerConfigNotFound'
        Test-XTunerConfig -Name no-such-config -Quiet | Should -BeFalse
    }

    It 'tests each config of a pipeline: one result per config with -Quiet' {
        Get-XTunerConfig tiny* | Test-XTunerConfig -Quiet | Should -Be @($true, $true)
    }
}
