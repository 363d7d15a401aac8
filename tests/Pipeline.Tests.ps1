BeforeDiscovery {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
    $catalogue = @(Get-XTunerConfig | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force

    # The whole config as YAML: equal text means every key is equal.
    function Get-YamlText($Config) { [XTuner.Core.Configuration.ConfigYaml]::Serialize($Config) }
}

Describe 'the README pipeline' {
    BeforeAll {
        $previousLocation = $PWD.Path
        $null = $ExecutionContext.SessionState.Path.SetLocation($TestDrive)
        New-XTunerConfig -Template tiny-llama | Set-SequenceParallel -Size 2 | Export-XTunerConfig -Path ./my.yaml
    }

    AfterAll {
        $null = $ExecutionContext.SessionState.Path.SetLocation($previousLocation)
    }

    It 'writes my.yaml' {
        "$TestDrive/my.yaml" | Should -Exist
    }

    It 'writes a config that splits each sequence over 2 ranks on one machine' {
        $config = Get-XTunerConfig -Path ./my.yaml
        $config.SequenceParallelSize | Should -Be 2
        $config.Nodes | Should -Be 1
        $config.GpusPerNode | Should -Be 2
        $config.DataParallelSize | Should -Be 1
    }

    It 'writes a config that passes Test-XTunerConfig' {
        Test-XTunerConfig -Path ./my.yaml | Should -BeNullOrEmpty
    }

    It 'is the built-in tiny-llama-sp2 but for its name and description' {
        $mine = Get-XTunerConfig -Path ./my.yaml
        $builtin = Get-XTunerConfig tiny-llama-sp2
        $builtin.Name = $mine.Name
        $builtin.Description = $mine.Description
        Get-YamlText $mine | Should -Be (Get-YamlText $builtin)
    }
}

Describe 'round trip' {
    It 'Export-XTunerConfig then Get-XTunerConfig -Path gives back <Name> unchanged' -TestCases $catalogue {
        $config = Get-XTunerConfig $Name
        $file = $config | Export-XTunerConfig -Path "$TestDrive/$Name.yaml" -PassThru
        $back = $file | Get-XTunerConfig
        Get-YamlText $back | Should -Be (Get-YamlText $config)
        $back.SourcePath | Should -Be $file.FullName
    }

    It 'keeps edits made in the pipeline' {
        $config = Get-XTunerConfig tiny-llama | Set-XTunerConfig -MaxSteps 7 -Option @{ 'slurm.partition' = 'gpu'; betas = 0.8, 0.85 }
        $back = $config | Export-XTunerConfig -Path "$TestDrive/edited.yaml" -PassThru | Get-XTunerConfig
        $back.MaxSteps | Should -Be 7
        $back.Slurm.Partition | Should -Be 'gpu'
        $back.Betas | Should -Be @(0.8, 0.85)
    }
}
