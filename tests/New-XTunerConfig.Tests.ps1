BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force

    # The whole config as YAML: equal text means every key is equal.
    function Get-YamlText($Config) { [XTuner.Core.Configuration.ConfigYaml]::Serialize($Config) }
}

Describe 'New-XTunerConfig' {
    BeforeEach {
        $previousLocation = $PWD.Path
        $null = $ExecutionContext.SessionState.Path.SetLocation($TestDrive)
    }

    AfterEach {
        $null = $ExecutionContext.SessionState.Path.SetLocation($previousLocation)
    }

    It 'starts from the defaults without -Template' {
        $config = New-XTunerConfig
        $config | Should -BeOfType XTuner.Core.Configuration.XTunerConfig
        $config.Name | Should -Be 'xtuner'
        $config.MaxLength | Should -Be 2048
        $config.SequenceParallelSize | Should -Be 1
    }

    It 'starts from the catalogue entry named by -Template' {
        Get-YamlText (New-XTunerConfig -Template tiny-llama) | Should -Be (Get-YamlText (Get-XTunerConfig tiny-llama))
    }

    It 'takes the template as its first positional parameter' {
        (New-XTunerConfig llama2-7b-full-8k-sp1).Name | Should -Be 'llama2-7b-full-8k-sp1'
    }

    It 'applies -MaxLength on top of the template' {
        $config = New-XTunerConfig -Template tiny-llama -MaxLength 512
        $config.MaxLength | Should -Be 512
        $config.GpusPerNode | Should -Be 1
    }

    It 'applies typed parameters: -<Parameter>' -TestCases @(
        @{ Parameter = 'Device'; Value = 'Cpu'; Property = 'Device' }
        @{ Parameter = 'DType'; Value = 'Float32'; Property = 'DType' }
        @{ Parameter = 'DatasetFormat'; Value = 'Chat'; Property = 'DatasetFormat' }
        @{ Parameter = 'LearningRate'; Value = 0.001; Property = 'Lr' }
        @{ Parameter = 'ZeroStage'; Value = 3; Property = 'ZeroStage' }
        @{ Parameter = 'Launcher'; Value = 'Slurm'; Property = 'Launcher' }
    ) {
        $arguments = @{ Template = 'tiny-llama'; $Parameter = $Value }
        $config = New-XTunerConfig @arguments
        "$($config.$Property)" | Should -Be "$Value"
    }

    It 'turns a switch off with -PackToMaxLength:$false' {
        (New-XTunerConfig -Template tiny-llama -PackToMaxLength:$false).PackToMaxLength | Should -BeFalse
    }

    It 'resolves -DataPath against the current location and keeps builtin: names' {
        $config = New-XTunerConfig -Template tiny-llama -DataPath ./data.jsonl, builtin:chat-sample
        $config.DataFiles | Should -Be @([System.IO.Path]::Combine($TestDrive, 'data.jsonl'), 'builtin:chat-sample')
    }

    It 'points -Model at a checkpoint folder, keeping only the template''s RoPE scaling' {
        $null = [System.IO.Directory]::CreateDirectory("$TestDrive/Llama-2-7b-hf")
        $config = New-XTunerConfig -Template llama2-7b-full-32k-sp1 -Model ./Llama-2-7b-hf
        $config.PretrainedModelNameOrPath | Should -Be ([System.IO.Path]::Combine($TestDrive, 'Llama-2-7b-hf'))
        $config.Model.Architecture | Should -BeNullOrEmpty
        $config.Model.RopeScaling.Factor | Should -Be 8
        $config.Tokenizer | Should -BeNullOrEmpty
    }

    It 'keeps a Hugging Face id given to -Model as it is' {
        (New-XTunerConfig -Template tiny-llama -Model Qwen/Qwen2-7B).PretrainedModelNameOrPath | Should -BeExactly 'Qwen/Qwen2-7B'
    }

    It 'sets any key by its YAML name with -Option, nested keys dotted' {
        $config = New-XTunerConfig -Template tiny-llama -Option @{ 'slurm.partition' = 'gpu'; warmup_ratio = 0.1; betas = 0.8, 0.9 }
        $config.Slurm.Partition | Should -Be 'gpu'
        $config.WarmupRatio | Should -Be 0.1
        $config.Betas | Should -Be @(0.8, 0.9)
    }

    It 'writes XTunerUnknownConfigKey for an unknown -Option key, and no config' {
        $config = New-XTunerConfig -Template tiny-llama -Option @{ max_lenght = 4 } -ErrorVariable errors -ErrorAction SilentlyContinue
        $config | Should -BeNullOrEmpty
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'XTunerUnknownConfigKey,*'
        $errors[0].Exception.Message | Should -Be "-Option: Unknown key 'max_lenght'. Did you mean 'max_length'?"
    }

    It 'writes XTunerConfigNotFound for an unknown -Template' {
        { New-XTunerConfig -Template no-such-template -ErrorAction Stop } | Should -Throw -ErrorId 'XTunerConfigNotFound,XTuner.PowerShell.Commands.NewXTunerConfigCommand'
    }

    It 'refuses a -MaxLength below 1 when binding' {
        { New-XTunerConfig -MaxLength 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
    }
}
