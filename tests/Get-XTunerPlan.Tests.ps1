# Get-XTunerPlan: the planner's layouts as typed objects, from the pipeline, with pins, sizes and a table view.

BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
}

Describe 'Get-XTunerPlan' {
    It 'plans a config from the pipeline, fastest fitting layout first and recommended' {
        $plans = @(Get-XTunerConfig llama2-7b-full-32k-sp1 | Get-XTunerPlan -Gpus 8)
        $plans.Count | Should -BeGreaterThan 1
        $plans | Should -BeOfType XTuner.Core.Planning.XTunerPlan
        $plans[0].Recommended | Should -BeTrue
        @($plans | Where-Object Recommended).Count | Should -Be 1
        $plans | ForEach-Object { $_.Fits | Should -BeTrue }
        $plans[0].TokensPerSecondPerGpu | Should -Be ($plans | Measure-Object TokensPerSecondPerGpu -Maximum).Maximum
        $plans[0].Gpus | Should -Be 8
    }

    It 'takes a name, and -Option pins a choice' {
        $plans = @(Get-XTunerPlan llama2-7b-full-32k-sp1 -Gpus 8 -Option @{ zero_stage = 0; activation_checkpointing = $true })
        $plans.Count | Should -BeGreaterThan 0
        $plans.ZeroStage | Sort-Object -Unique | Should -Be 0
        $plans.ActivationCheckpointing | Sort-Object -Unique | Should -BeTrue
    }

    It 'takes sizes as text or as PowerShell byte literals, and -MaxLength' {
        $text = Get-XTunerPlan llama2-7b-full-32k-sp1 -Gpus 1 -GpuMemory 80GiB -MaxLength 8192 -Option @{ zero_stage = 0 } -All
        $bytes = Get-XTunerPlan llama2-7b-full-32k-sp1 -Gpus 1 -GpuMemory 80GB -MaxLength 8k -Option @{ zero_stage = 0 } -All
        $text[0].GpuMemoryGiB | Should -Be 80
        $bytes[0].GpuMemoryGiB | Should -Be 80
        $text[0].MaxLength | Should -Be 8192
        $bytes[0].MaxLength | Should -Be 8192
        # Without offload the 7B's states alone (100 GiB) exceed 80 GiB.
        ($text | Where-Object { -not $_.OffloadOptimizer }).Fits | Should -Not -Contain $true
    }

    It 'writes XTunerNoLayoutFits with what would fit when nothing does' {
        { Get-XTunerPlan llama2-70b-full-1m-sp64 -Gpus 8 -GpuMemory 80GiB -ErrorAction Stop } |
            Should -Throw -ErrorId 'XTunerNoLayoutFits,XTuner.PowerShell.Commands.GetXTunerPlanCommand'
        Get-XTunerPlan llama2-70b-full-1m-sp64 -Gpus 8 -GpuMemory 80GiB -ErrorVariable planErrors -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        "$($planErrors[0])" | Should -BeLike '*More GPUs*'
    }

    It 'checks host memory against offload' {
        $plan = Get-XTunerPlan llama2-7b-full-32k-sp1 -Gpus 1 -HostMemory 64GiB -All -Option @{ zero_stage = 0; offload_optimizer = $true; offload_activations = $false; activation_checkpointing = $true } -ErrorAction SilentlyContinue
        $plan.FitsHost | Should -BeFalse
        $plan.Limit | Should -Be 'host memory'
    }

    It 'refuses an unknown assumption and a size without a unit, with their ErrorIds' {
        { Get-XTunerPlan tiny-llama -Assume @{ warp_speed = 9 } -ErrorAction Stop } |
            Should -Throw -ErrorId 'XTunerInvalidPlanAssumption,XTuner.PowerShell.Commands.GetXTunerPlanCommand'
        { Get-XTunerPlan tiny-llama -GpuMemory 141 -ErrorAction Stop } |
            Should -Throw -ErrorId 'XTunerInvalidConfigValue,XTuner.PowerShell.Commands.GetXTunerPlanCommand'
    }

    It 'changes an assumption with -Assume and shows it in the plan' {
        $slow = Get-XTunerPlan llama2-7b-full-32k-sp1 -Gpus 1 -Option @{ zero_stage = 0; activation_checkpointing = $true; offload_optimizer = $false; offload_activations = $false }
        $fast = Get-XTunerPlan llama2-7b-full-32k-sp1 -Gpus 1 -Option @{ zero_stage = 0; activation_checkpointing = $true; offload_optimizer = $false; offload_activations = $false } -Assume @{ matmul_tflops = 1564; attention_tflops = '1080' }
        $fast.StepTimeSeconds | Should -BeLessThan ($slow.StepTimeSeconds * 0.7)
        ($fast.Assumptions.All | Where-Object Name -eq 'matmul_tflops').Overridden | Should -BeTrue
    }

    It 'shows a table with the recommended layout marked' {
        $text = Get-XTunerPlan llama2-7b-full-32k-sp1 -Gpus 8 | Select-Object -First 3 | Out-String -Width 120
        $text | Should -Match 'GPU GiB'
        $text | Should -Match 'Tok/s/GPU'
        $text | Should -Match '(?m)^\*'
    }

    It 'makes Start-XTunerTraining warn before a CUDA launch predicted not to fit, and not on the CPU' {
        $long = @{ zero_stage = 0; max_length = 131072; 'model.rope_scaling.factor' = 32; random_init = $true }
        $config = Get-XTunerConfig llama2-7b-full-32k-sp1
        $config | Start-XTunerTraining -Device Cuda -GpusPerNode 1 -WorkDir $TestDrive/cuda -Option $long -WhatIf -WarningVariable cuda -WarningAction SilentlyContinue
        "$cuda" | Should -BeLike '*XTunerPredictedOutOfMemory*predicts*GiB per GPU*'
        $config | Start-XTunerTraining -Device Cpu -GpusPerNode 1 -WorkDir $TestDrive/cpu -Option $long -WhatIf -WarningVariable cpu -WarningAction SilentlyContinue
        "$cpu" | Should -Not -BeLike '*XTunerPredictedOutOfMemory*'
    }
}
