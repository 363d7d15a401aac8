# Start-XTunerTraining with the real xtuner worker (bin/xtuner, built with the module): the tiny Llama trained on two
# CPU processes that split every sequence (sequence parallelism), then stopped mid-run.

BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
    # The module's own worker, bin/xtuner/xtuner.dll, not a stand-in.
    $savedWorker = $env:XTUNER_WORKER
    $env:XTUNER_WORKER = $null

    function Test-AnyAlive($Run) {
        @($Run.Ranks | Where-Object { $_.ProcessId -gt 0 -and [XTuner.Core.Launch.ProcessSignals]::IsAlive($_.ProcessId) }).Count -gt 0
    }
}

AfterAll {
    $env:XTUNER_WORKER = $savedWorker
}

Describe 'Start-XTunerTraining with the xtuner worker' {
    It 'trains tiny-llama-sp2 on two sequence-parallel ranks with a finite, falling loss' {
        $run = Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -MaxSteps 5 -WorkDir $TestDrive/run -PassThru
        "$($run.State)" | Should -Be 'Completed'
        $run.WorldSize | Should -Be 2
        $run.SequenceParallelSize | Should -Be 2
        $run.Ranks | Should -HaveCount 2
        $run.Ranks.ExitCode | Should -Be @(0, 0)
        $run.Step | Should -Be 5
        $steps = Get-XTunerRun $TestDrive/run -Metrics
        $steps.Step | Should -Be @(1, 2, 3, 4, 5)
        foreach ($step in $steps) { [double]::IsFinite($step.Loss) | Should -BeTrue }
        $steps[-1].Loss | Should -BeLessThan $steps[0].Loss
        "$TestDrive/run/hf/config.json" | Should -Exist
        "$TestDrive/run/loss.png" | Should -Exist
        Test-AnyAlive $run | Should -BeFalse
    }

    It 'leaves logs a person reads: a header naming xtuner''s launcher, step lines, no event lines' {
        $log = [System.IO.File]::ReadAllLines("$TestDrive/run/logs/rank0.log")
        $log | Where-Object { $_ -like '@xtuner-event*' } | Should -BeNullOrEmpty
        $log | Where-Object { $_ -like 'xtuner rank 0 of 2 *' } | Should -BeLike '*xtuner launcher*'
        ($log -join "`n") | Should -Not -BeLike '*torchrun*'
        $log | Where-Object { $_ -like 'step 5/5 *' } | Should -HaveCount 1
    }

    It 'trains a one-rank config in a rank process of its own' {
        $run = Start-XTunerTraining -Name tiny-llama -MaxSteps 2 -WorkDir $TestDrive/one -PassThru
        "$($run.State)" | Should -Be 'Completed'
        $run.Ranks | Should -HaveCount 1
        $run.Step | Should -Be 2
    }

    It 'a rank that fails is XTunerRankFailed, with the error the rank reported' {
        [System.IO.File]::WriteAllText("$TestDrive/tokenizer.json", 'not json')
        { Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -MaxSteps 2 -Option @{ tokenizer = "$TestDrive/tokenizer.json" } -WorkDir $TestDrive/failed } |
            Should -Throw -ErrorId 'XTunerRankFailed,*' -ExpectedMessage '*Rank ? exited with code 1*rank?.log*error `[XTunerInvalidTokenizer`]*'
        $run = Get-XTunerRun $TestDrive/failed
        "$($run.State)" | Should -Be 'Failed'
        Test-AnyAlive $run | Should -BeFalse
    }

    It 'Stop-XTunerTraining stops a run of -AsJob mid-training; no rank is left' {
        $job = Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -MaxSteps 100000 -WorkDir $TestDrive/stopped -AsJob
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (-not (Get-XTunerRun $TestDrive/stopped -Metrics -ErrorAction SilentlyContinue) -and [DateTime]::UtcNow -lt $deadline) {
            [System.Threading.Thread]::Sleep(100)
        }
        $running = Get-XTunerRun $TestDrive/stopped
        "$($running.State)" | Should -Be 'Running'
        $running.Step | Should -BeGreaterThan 0

        $run = Stop-XTunerTraining $TestDrive/stopped -PassThru
        "$($run.State)" | Should -Be 'Stopped'
        Test-AnyAlive $running | Should -BeFalse
        $null = $job | Wait-Job -Timeout 30
        "$($job.State)" | Should -Be 'Stopped'
        $job | Remove-Job
    }

    It 'Stop-XTunerTraining -Checkpoint ends the run after a checkpoint of its step, and -Resume continues from it' {
        $job = Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -MaxSteps 150 -WorkDir $TestDrive/kept -AsJob
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (@(Get-XTunerRun $TestDrive/kept -Metrics -ErrorAction SilentlyContinue).Count -lt 3 -and [DateTime]::UtcNow -lt $deadline) {
            [System.Threading.Thread]::Sleep(100)
        }
        $run = Stop-XTunerTraining $TestDrive/kept -Checkpoint -PassThru
        "$($run.State)" | Should -Be 'Stopped'
        $run.Ranks.ExitCode | Should -Be @(0, 0)
        $run.Step | Should -BeLessThan 150
        @(Get-ChildItem $TestDrive/kept/checkpoints).Name | Should -Be @(('step-{0:D6}' -f $run.Step))
        "$TestDrive/kept/hf" | Should -Not -Exist
        $null = $job | Wait-Job -Timeout 30
        $job | Remove-Job -Force

        $resumed = Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -MaxSteps 150 -WorkDir $TestDrive/kept -Resume -PassThru
        "$($resumed.State)" | Should -Be 'Completed'
        (Get-XTunerRun $TestDrive/kept -Metrics).Step | Should -Be (1..150)
    }
}
