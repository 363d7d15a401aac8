# The PowerShell examples in examples/powershell run as documented (with the real xtuner worker).

BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
    $savedWorker = $env:XTUNER_WORKER
    $env:XTUNER_WORKER = $null
    $examples = [System.IO.Path]::Combine($PSScriptRoot, '..', 'examples', 'powershell')
}

AfterAll {
    $env:XTUNER_WORKER = $savedWorker
}

Describe 'examples/powershell' {
    It 'quickstart.ps1 trains with SP 2 and reports a falling loss' {
        $output = & "$examples/quickstart.ps1" -WorkDir "$TestDrive/quickstart" -MaxSteps 12
        $output[0] | Should -Match 'Trained 12 steps on 2 ranks \(SP 2\)'
        $run = $output[1]
        "$($run.State)" | Should -Be 'Completed'
        $steps = Get-XTunerRun "$TestDrive/quickstart" -Metrics
        $steps[-1].Loss | Should -BeLessThan $steps[0].Loss
    }

    It 'from-hf-checkpoint.ps1 fine-tunes the checkpoint quickstart exported, on chat data' {
        $output = & "$examples/from-hf-checkpoint.ps1" -Checkpoint "$TestDrive/quickstart/hf" -WorkDir "$TestDrive/from-hf" -MaxSteps 3
        $output | Should -Match 'Fine-tuned .*: loss [0-9.]+ after 3 steps'
        "$TestDrive/from-hf/hf/model.safetensors" | Should -Exist
        (Get-XTunerRun "$TestDrive/from-hf").Step | Should -Be 3
    }

    It 'catalogue.ps1 exports and checks the recipes that fit 8 GPUs' {
        $rows = & "$examples/catalogue.ps1" -OutputFolder "$TestDrive/configs" -Gpus 8
        $rows.Name | Should -Contain 'llama2-7b-full-128k-sp8'
        $rows.Name | Should -Not -Contain 'llama2-70b-full-32k-sp4'
        foreach ($row in $rows) {
            $row.Errors | Should -Be 0
            $row.File | Should -Exist
        }
    }
}
