BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
}

Describe 'Set-XTunerConfig' {
    BeforeAll {
        $tiny = Get-XTunerConfig tiny-llama
    }

    It 'sets -<Parameter> to <Value>' -TestCases @(
        @{ Parameter = 'MaxSteps'; Value = 200; Property = 'MaxSteps' }
        @{ Parameter = 'LearningRate'; Value = 0.0005; Property = 'Lr' }
        @{ Parameter = 'Lr'; Value = 0.01; Property = 'Lr' }
        @{ Parameter = 'MaxLength'; Value = 1024; Property = 'MaxLength' }
        @{ Parameter = 'Device'; Value = 'Cuda'; Property = 'Device' }
        @{ Parameter = 'Precision'; Value = 'BFloat16'; Property = 'DType' }
        @{ Parameter = 'NProcPerNode'; Value = 4; Property = 'GpusPerNode' }
        @{ Parameter = 'WorkDir'; Value = '/tmp/xtuner-run'; Property = 'WorkDir' }
        @{ Parameter = 'OffloadActivations'; Value = 'auto'; Property = 'OffloadActivations' }
        @{ Parameter = 'OffloadActivations'; Value = '6'; Property = 'OffloadActivations' }
        @{ Parameter = 'MlpTiles'; Value = '4'; Property = 'MlpTiles' }
        @{ Parameter = 'RanksPerGpu'; Value = 2; Property = 'RanksPerGpu' }
    ) {
        # Activation offload moves checkpointed layers' inputs: it needs checkpointing, which the tiny config leaves off.
        $arguments = @{ $Parameter = $Value; ActivationCheckpointing = $true }
        $config = $tiny | Set-XTunerConfig @arguments
        "$($config.$Property)" | Should -Be "$Value"
    }

    It 'sets -FusedKernels to auto, true or false and refuses anything else' {
        "$(($tiny | Set-XTunerConfig -FusedKernels false).FusedKernels)" | Should -Be 'Off'
        "$(($tiny | Set-XTunerConfig -FusedKernels true -Device Cuda).FusedKernels)" | Should -Be 'On'
        "$(($tiny | Set-XTunerConfig -FusedKernels auto).FusedKernels)" | Should -Be 'Auto'
        { $tiny | Set-XTunerConfig -FusedKernels sometimes -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'sets -CastWeightsPerLayer to auto, true or false and refuses anything else' {
        "$(($tiny | Set-XTunerConfig -CastWeightsPerLayer true).CastWeightsPerLayer)" | Should -Be 'On'
        "$(($tiny | Set-XTunerConfig -CastWeightsPerLayer false).CastWeightsPerLayer)" | Should -Be 'Off'
        "$(($tiny | Set-XTunerConfig -CastWeightsPerLayer auto).CastWeightsPerLayer)" | Should -Be 'Auto'
        { $tiny | Set-XTunerConfig -CastWeightsPerLayer sometimes -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
    }

    It 'turns the optimizer offload on with -OffloadOptimizer and refuses a layer count that is not one' {
        ($tiny | Set-XTunerConfig -OffloadOptimizer).OffloadOptimizer | Should -BeTrue
        { $tiny | Set-XTunerConfig -OffloadActivations some -ErrorAction Stop } | Should -Throw -ErrorId 'XTunerInvalidConfigValue*'
    }

    It 'sets top-level, nested and list keys with -Option' {
        $config = $tiny | Set-XTunerConfig -Option @{
            'slurm.partition'            = 'gpu'
            'slurm.time'                 = '2-00:00:00'
            'model.rope_scaling.factor'  = 2.0
            'model.rope_scaling.rope_type' = 'linear'
            betas                        = 0.9, 0.95
            seed                         = 7
        }
        $config.Slurm.Partition | Should -Be 'gpu'
        $config.Slurm.Time | Should -Be '2-00:00:00'
        $config.Model.RopeScaling.Factor | Should -Be 2
        "$($config.Model.RopeScaling.RopeType)" | Should -Be 'Linear'
        $config.Betas | Should -Be @(0.9, 0.95)
        $config.Seed | Should -Be 7
    }

    It 'refuses an unknown -Option key <Key> with XTunerUnknownConfigKey and the closest key' -TestCases @(
        @{ Key = 'max_lenght'; Closest = 'max_length' }
        @{ Key = 'slurm.partitoin'; Closest = 'slurm.partition' }
    ) {
        $config = $tiny | Set-XTunerConfig -Option @{ $Key = 1 } -ErrorVariable errors -ErrorAction SilentlyContinue
        $config | Should -BeNullOrEmpty
        $errors[0].FullyQualifiedErrorId | Should -Be 'XTunerUnknownConfigKey,XTuner.PowerShell.Commands.SetXTunerConfigCommand'
        $errors[0].Exception.Message | Should -BeLike "*Unknown key '$Key'. Did you mean '$Closest'?*"
    }

    It 'refuses a value of the wrong type with XTunerInvalidConfigValue' {
        { $tiny | Set-XTunerConfig -Option @{ max_length = 'long' } -ErrorAction Stop } |
            Should -Throw -ErrorId 'XTunerInvalidConfigValue,*' -ExpectedMessage "*'long' is not an integer*"
    }

    It 'refuses a max_length beyond the model''s positions with XTunerSequenceTooLong' {
        { $tiny | Set-XTunerConfig -MaxLength 100000 -ErrorAction Stop } |
            Should -Throw -ErrorId 'XTunerSequenceTooLong,*' -ExpectedMessage '*longer than the model''s 4096 positions*rope_scaling*'
    }

    It 'accepts that max_length once RoPE scaling extends the positions' {
        $config = $tiny | Set-XTunerConfig -MaxLength 16384 -Option @{ 'model.rope_scaling.rope_type' = 'linear'; 'model.rope_scaling.factor' = 4 }
        $config.MaxLength | Should -Be 16384
    }

    It 'refuses a sequence-parallel size the model cannot take' {
        { $tiny | Set-XTunerConfig -GpusPerNode 3 -SequenceParallelSize 3 -ErrorAction Stop } | Should -Throw -ErrorId 'XTunerInvalidSequenceParallelSize,*'
    }

    It 'leaves its input unchanged' {
        $before = [XTuner.Core.Configuration.ConfigYaml]::Serialize($tiny)
        $null = $tiny | Set-XTunerConfig -MaxSteps 1 -Option @{ 'slurm.partition' = 'x' }
        [XTuner.Core.Configuration.ConfigYaml]::Serialize($tiny) | Should -Be $before
    }

    It 'is non-terminating: valid configs of the pipeline go through' {
        $configs = Get-XTunerConfig tiny-llama, llama2-7b-full-32k-sp1 | Set-XTunerConfig -MaxLength 8192 -ErrorVariable errors -ErrorAction SilentlyContinue
        $configs.Name | Should -Be 'llama2-7b-full-32k-sp1'
        $errors[0].TargetObject.Name | Should -Be 'tiny-llama'
    }

    It 'does not check that files exist (Test-XTunerConfig does)' {
        ($tiny | Set-XTunerConfig -DataPath "$TestDrive/not-yet-written.jsonl").DataFiles | Should -Be "$TestDrive/not-yet-written.jsonl"
    }
}
