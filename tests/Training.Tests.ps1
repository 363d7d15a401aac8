# Start-XTunerTraining, Get-XTunerRun and Stop-XTunerTraining, with tests/fake-worker/xtuner standing in for the xtuner
# ranks (XTUNER_WORKER points at it; XTUNER_FAKE_MODE says whether its ranks train, fail or wait to be stopped).

BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
    $savedWorker = $env:XTUNER_WORKER
    $env:XTUNER_WORKER = [System.IO.Path]::GetFullPath("$PSScriptRoot/fake-worker/xtuner")
    $env:XTUNER_FAKE_MODE = $null
    $tiny = Get-XTunerConfig tiny-llama-sp2

    # Waits until the run in $WorkDir is Running with every rank process alive, and returns it.
    function Wait-RunStarted([string] $WorkDir) {
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while ([DateTime]::UtcNow -lt $deadline) {
            $run = Get-XTunerRun $WorkDir -ErrorAction SilentlyContinue
            if ($run -and "$($run.State)" -eq 'Running' -and @($run.Ranks | Where-Object { [XTuner.Core.Launch.ProcessSignals]::IsAlive($_.ProcessId) }).Count -eq $run.WorldSize) {
                return $run
            }
            [System.Threading.Thread]::Sleep(100)
        }
        throw "The run in $WorkDir did not start."
    }

    function Test-AnyAlive($Run) {
        @($Run.Ranks | Where-Object { $_.ProcessId -gt 0 -and [XTuner.Core.Launch.ProcessSignals]::IsAlive($_.ProcessId) }).Count -gt 0
    }
}

AfterAll {
    $env:XTUNER_WORKER = $savedWorker
    $env:XTUNER_FAKE_MODE = $null
    Get-Job | Where-Object PSJobTypeName -eq 'XTunerTrainingJob' | Remove-Job -Force
}

Describe 'Start-XTunerTraining -WhatIf' {
    It 'writes the launch plan and starts nothing' {
        $tiny | Start-XTunerTraining -WorkDir $TestDrive/whatif -WhatIf -InformationVariable info
        $plan = @($info | Where-Object { $_.Tags -contains 'LaunchPlan' })[0].MessageData
        $plan.Ranks | Should -HaveCount 2
        $plan.WorkDir | Should -Be ([System.IO.Path]::GetFullPath("$TestDrive/whatif"))
        "$plan" | Should -BeLike '*sequence parallel 2 x data parallel 1*SP groups    {0,1}*DP groups    {0} {1}*rank 1 (node 0, local 1, cpu)*command*train*config.yaml*--launcher pytorch*'
        "$TestDrive/whatif" | Should -Not -Exist
    }

    It 'applies -SequenceParallelSize, -GpusPerNode and -MaxSteps to the plan' {
        $tiny | Start-XTunerTraining -SequenceParallelSize 2 -NProcPerNode 4 -MaxSteps 7 -WorkDir $TestDrive/whatif -WhatIf -InformationVariable info
        $plan = $info[0].MessageData
        $plan.Ranks | Should -HaveCount 4
        "$plan" | Should -BeLike '*SP groups    {0,1} {2,3}*DP groups    {0,2} {1,3}*'
        $plan.Config.MaxSteps | Should -Be 7
        "$TestDrive/whatif" | Should -Not -Exist
    }

    It 'passes -FusedKernels to the ranks, and refuses true on the CPU with XTunerFusedKernelsUnavailable' {
        $tiny | Start-XTunerTraining -FusedKernels false -WorkDir $TestDrive/whatif -WhatIf -InformationVariable info
        "$($info[0].MessageData.Config.FusedKernels)" | Should -Be 'Off'
        { $tiny | Start-XTunerTraining -FusedKernels true -Device Cpu -WorkDir $TestDrive/whatif -WhatIf -ErrorAction Stop } |
            Should -Throw -ErrorId 'XTunerFusedKernelsUnavailable*'
    }

    It 'resolves a relative -WorkDir against the current location' {
        $here = $ExecutionContext.SessionState.Path.CurrentFileSystemLocation.ProviderPath
        $null = $ExecutionContext.SessionState.Path.SetLocation($TestDrive)
        try {
            Start-XTunerTraining -Name tiny-llama -WorkDir runs/a -WhatIf -InformationVariable info
            $info[0].MessageData.WorkDir | Should -Be ([System.IO.Path]::Combine($TestDrive, 'runs', 'a'))
        }
        finally {
            $null = $ExecutionContext.SessionState.Path.SetLocation($here)
        }
    }

    It 'takes a config file with -Path and -Option keys' {
        $tiny | Export-XTunerConfig -Path $TestDrive/tiny.yaml
        Start-XTunerTraining -Path $TestDrive/tiny.yaml -Option @{ lr = 0.5; 'logging_interval' = 3 } -WorkDir $TestDrive/whatif -WhatIf -InformationVariable info
        $info[0].MessageData.Config.Lr | Should -Be 0.5
        $info[0].MessageData.Config.LoggingInterval | Should -Be 3
    }

    It 'binds the files of Get-ChildItem by their PSPath (-LiteralPath), as the built-in cmdlets do' {
        $null = [System.IO.Directory]::CreateDirectory("$TestDrive/files")
        Get-XTunerConfig tiny* | Export-XTunerConfig -Path $TestDrive/files/
        $plans = Get-ChildItem $TestDrive/files/*.yaml | Start-XTunerTraining -WorkDir $TestDrive/files-runs -WhatIf -InformationVariable info
        $info.MessageData.Config.Name | Sort-Object | Should -Be @('tiny-llama', 'tiny-llama-sp2')
        (Get-ChildItem $TestDrive/files/*.yaml | Test-XTunerConfig -Quiet) | Should -Be @($true, $true)
        (Get-ChildItem $TestDrive/files/*.yaml | Get-XTunerConfig).Name | Sort-Object | Should -Be @('tiny-llama', 'tiny-llama-sp2')
    }

    It 'takes a name with brackets exactly with -LiteralPath, and expands wildcards with -Path' {
        $tiny | Export-XTunerConfig -Path "$TestDrive/odd[1].yaml"
        Start-XTunerTraining -LiteralPath "$TestDrive/odd[1].yaml" -WorkDir $TestDrive/odd -WhatIf -InformationVariable literal
        $literal[0].MessageData.Config.Name | Should -Be 'tiny-llama-sp2'
        { Start-XTunerTraining -Path "$TestDrive/nothing-*.yaml" -WhatIf -ErrorAction Stop } | Should -Throw -ErrorId 'XTunerConfigFileNotFound,*'
    }

    It 'runs each of several configs given one -WorkDir in WORKDIR/NAME' {
        Get-XTunerConfig tiny* | Start-XTunerTraining -WorkDir $TestDrive/several -WhatIf -InformationVariable info
        $info.MessageData.WorkDir | Should -Be @([System.IO.Path]::GetFullPath("$TestDrive/several/tiny-llama"), [System.IO.Path]::GetFullPath("$TestDrive/several/tiny-llama-sp2"))
    }

    It 'refuses several configs of one name given one -WorkDir, before starting any: XTunerSeveralRunsOneWorkDir' {
        { $tiny, $tiny | Start-XTunerTraining -WorkDir $TestDrive/twins } |
            Should -Throw -ErrorId 'XTunerSeveralRunsOneWorkDir,*' -ExpectedMessage "*2 are named 'tiny-llama-sp2'*Set-XTunerConfig -Name*"
        "$TestDrive/twins" | Should -Not -Exist
    }
}

Describe 'Start-XTunerTraining refuses a config that cannot run' {
    It 'refuses what cannot run, starting nothing: <Id>' -TestCases @(
        @{ Id = 'XTunerInvalidSequenceParallelSize'; Arguments = @{ SequenceParallelSize = 3; GpusPerNode = 3 }; Message = "*sequence_parallel_size 3 does not divide the model's 8 attention heads*" }
        @{ Id = 'XTunerInvalidSequenceParallelSize'; Arguments = @{ SequenceParallelSize = 4 }; Message = '*sequence_parallel_size 4 does not divide the world size 2*' }
        @{ Id = 'XTunerInvalidWorldSize'; Arguments = @{ Option = @{ nodes = 2 } }; Message = '*nodes 2: the local launcher runs on one machine*' }
        @{ Id = 'XTunerUnknownConfigKey'; Arguments = @{ Option = @{ max_lenght = 64 } }; Message = '*max_lenght*' }
    ) {
        { $tiny | Start-XTunerTraining @Arguments -WorkDir $TestDrive/refused } | Should -Throw -ErrorId "$Id,*" -ExpectedMessage $Message
        "$TestDrive/refused" | Should -Not -Exist
    }

    It 'refuses a work dir with checkpoints of an earlier run unless it resumes' {
        # A save that crashed before its rename is no checkpoint: only a step-* folder with trainer_state.json is.
        $null = [System.IO.Directory]::CreateDirectory("$TestDrive/old/checkpoints/step-12.tmp")
        [System.IO.File]::WriteAllText("$TestDrive/old/checkpoints/step-12.tmp/trainer_state.json", '{}')
        $tiny | Start-XTunerTraining -WorkDir $TestDrive/old -WhatIf
        $null = [System.IO.Directory]::CreateDirectory("$TestDrive/old/checkpoints/step-10")
        [System.IO.File]::WriteAllText("$TestDrive/old/checkpoints/step-10/trainer_state.json", '{}')
        { $tiny | Start-XTunerTraining -WorkDir $TestDrive/old -WhatIf } | Should -Throw -ErrorId 'XTunerInvalidConfig,*' -ExpectedMessage '*holds checkpoints of an earlier run*'
        $tiny | Start-XTunerTraining -WorkDir $TestDrive/old -Resume -WhatIf -InformationVariable info
        "$($info[0].MessageData)" | Should -BeLike '*--resume*'
    }

    It 'warns about the config before submitting to SLURM as before a local launch' {
        $bf16 = @{ dtype = 'bfloat16' }
        $tiny | Start-XTunerTraining -WorkDir $TestDrive/warned -Option $bf16 -WhatIf -WarningVariable local -WarningAction SilentlyContinue
        $tiny | Start-XTunerTraining -Launcher Slurm -WorkDir $TestDrive/warned -Option $bf16 -WhatIf -WarningVariable slurm -WarningAction SilentlyContinue
        "$local" | Should -BeLike '*bfloat16 on CPU*'
        "$slurm" | Should -Be "$local"
    }

    It 'refuses -Device Cuda on a machine without an NVIDIA GPU before any rank starts: XTunerCudaUnavailable' -Skip:([System.IO.File]::Exists('/dev/nvidia0')) {
        { $tiny | Start-XTunerTraining -Device Cuda -WorkDir $TestDrive/cuda } |
            Should -Throw -ErrorId 'XTunerCudaUnavailable,*' -ExpectedMessage '*shows no NVIDIA GPU*-Device Cpu*'
        "$TestDrive/cuda" | Should -Not -Exist
        # The plan itself can still be looked at from here.
        $tiny | Start-XTunerTraining -Device Cuda -WorkDir $TestDrive/cuda -WhatIf -InformationVariable info
        $info[0].MessageData.Ranks.Device | Should -Be @('cuda:0', 'cuda:1')
    }

    It 'names a missing config file' {
        { Start-XTunerTraining -Path $TestDrive/missing.yaml } | Should -Throw -ErrorId 'XTunerConfigFileNotFound,*'
    }
}

Describe 'Start-XTunerTraining with the fake worker' {
    # Each It that sets a fake mode leaves the next one the default (training ranks).
    AfterEach {
        $env:XTUNER_FAKE_MODE = $null
    }

    It 'trains and returns the completed run with -PassThru' {
        $run = $tiny | Start-XTunerTraining -MaxSteps 5 -WorkDir $TestDrive/run -PassThru
        $run | Should -BeOfType ([XTuner.Core.Runs.XTunerRun])
        "$($run.State)" | Should -Be 'Completed'
        $run.Step | Should -Be 5
        $run.TotalSteps | Should -Be 5
        $run.Loss | Should -Be 1.0
        $run.Ranks | Should -HaveCount 2
        $run.Ranks.ExitCode | Should -Be @(0, 0)
        "$TestDrive/run/config.yaml" | Should -Exist
        "$TestDrive/run/logs/rank1.log" | Should -Exist
        Test-AnyAlive $run | Should -BeFalse
    }

    It 'keeps rank 0''s events out of its log and error tail: the log holds what the rank printed for people' {
        $tiny | Start-XTunerTraining -MaxSteps 3 -WorkDir $TestDrive/log
        $log = [System.IO.File]::ReadAllLines("$TestDrive/log/logs/rank0.log")
        $log | Where-Object { $_ -like '@xtuner-event*' } | Should -BeNullOrEmpty
        $log | Where-Object { $_ -like 'step */3' } | Should -HaveCount 3
    }

    It 'returns nothing without -PassThru' {
        $tiny | Start-XTunerTraining -MaxSteps 2 -WorkDir $TestDrive/quiet | Should -BeNullOrEmpty
        "$((Get-XTunerRun $TestDrive/quiet).State)" | Should -Be 'Completed'
    }

    It 'writes the config the ranks read, with the overrides' {
        $tiny | Start-XTunerTraining -MaxSteps 2 -Option @{ lr = 0.25 } -WorkDir $TestDrive/options
        $written = Get-XTunerConfig -Path $TestDrive/options/config.yaml
        $written.MaxSteps | Should -Be 2
        $written.Lr | Should -Be 0.25
    }

    It 'shows rank 0 output with -Verbose' {
        $tiny | Start-XTunerTraining -MaxSteps 2 -WorkDir $TestDrive/verbose -Verbose 4>&1 | ForEach-Object { "$_" } | Should -Contain 'step 2/2'
    }

    It 'fails with XTunerRankFailed naming the rank, its exit code and its log' {
        $env:XTUNER_FAKE_MODE = 'fail'
        $thrown = { $tiny | Start-XTunerTraining -WorkDir $TestDrive/failed } | Should -Throw -ErrorId 'XTunerRankFailed,*' -PassThru
        $thrown.Exception.Message | Should -BeLike '*Rank 1 exited with code 3*rank1.log*bad data at line 3*'
        $run = Get-XTunerRun $TestDrive/failed
        "$($run.State)" | Should -Be 'Failed'
        $run.ErrorId | Should -Be 'XTunerRankFailed'
        Test-AnyAlive $run | Should -BeFalse
    }

    It 'fails with XTunerRendezvousTimeout when a rank reports one' {
        $env:XTUNER_FAKE_MODE = 'rendezvous'
        { $tiny | Start-XTunerTraining -WorkDir $TestDrive/rendezvous } | Should -Throw -ErrorId 'XTunerRendezvousTimeout,*' -ExpectedMessage '*Rank 1 exited with code 1*did not open the store*'
        Test-AnyAlive (Get-XTunerRun $TestDrive/rendezvous) | Should -BeFalse
    }

    It 'refuses a work dir where a run is going' {
        $env:XTUNER_FAKE_MODE = 'hang'
        $job = $tiny | Start-XTunerTraining -WorkDir $TestDrive/busy -AsJob
        try {
            $null = Wait-RunStarted $TestDrive/busy
            { $tiny | Start-XTunerTraining -WorkDir $TestDrive/busy -WhatIf } | Should -Throw -ErrorId 'XTunerInvalidConfig,*' -ExpectedMessage '*already going in*'
        }
        finally {
            $job | Stop-Job
        }
    }
}

Describe 'Start-XTunerTraining -AsJob' {
    # Each It that sets a fake mode leaves the next one the default (training ranks).
    AfterEach {
        $env:XTUNER_FAKE_MODE = $null
    }

    It 'returns a job at once; Receive-Job yields the run' {
        $job = $tiny | Start-XTunerTraining -MaxSteps 3 -WorkDir $TestDrive/job -AsJob
        $job | Should -BeOfType ([System.Management.Automation.Job])
        $job.PSJobTypeName | Should -Be 'XTunerTrainingJob'
        $run = $job | Receive-Job -Wait
        "$($job.State)" | Should -Be 'Completed'
        $run.Step | Should -Be 3
        "$($run.State)" | Should -Be 'Completed'
        $job | Remove-Job
    }

    It 'Stop-Job stops every rank' {
        $env:XTUNER_FAKE_MODE = 'hang'
        $job = $tiny | Start-XTunerTraining -WorkDir $TestDrive/stopjob -AsJob
        $started = Wait-RunStarted $TestDrive/stopjob
        $job | Stop-Job
        "$($job.State)" | Should -Be 'Stopped'
        Test-AnyAlive $started | Should -BeFalse
        "$((Get-XTunerRun $TestDrive/stopjob).State)" | Should -Be 'Stopped'
        "$(($job | Receive-Job).State)" | Should -Be 'Stopped'
        $job | Remove-Job
    }

    It 'a failed rank fails the job with XTunerRankFailed' {
        $env:XTUNER_FAKE_MODE = 'fail'
        $job = $tiny | Start-XTunerTraining -WorkDir $TestDrive/failedjob -AsJob
        $null = $job | Wait-Job
        "$($job.State)" | Should -Be 'Failed'
        $null = $job | Receive-Job -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'XTunerRankFailed*'
        $job | Remove-Job
    }
}

Describe 'Get-XTunerRun' {
    BeforeAll {
        $tiny | Start-XTunerTraining -MaxSteps 4 -WorkDir $TestDrive/runs/a
        $tiny | Start-XTunerTraining -MaxSteps 2 -WorkDir $TestDrive/runs/b
        $null = [System.IO.Directory]::CreateDirectory("$TestDrive/runs/empty")
    }

    It 'reads the state, ranks and latest metrics' {
        $run = Get-XTunerRun $TestDrive/runs/a
        $run.Name | Should -Be 'tiny-llama-sp2'
        "$($run.State)" | Should -Be 'Completed'
        $run.WorldSize | Should -Be 2
        $run.SequenceParallelSize | Should -Be 2
        $run.Step | Should -Be 4
        $run.LastStep.TokensPerSecondPerGpu | Should -Be 5120
    }

    It 'returns every step with -Metrics' {
        $steps = Get-XTunerRun $TestDrive/runs/a -Metrics
        $steps | Should -HaveCount 4
        $steps[0] | Should -BeOfType ([XTuner.Core.Runs.XTunerStep])
        $steps.Step | Should -Be @(1, 2, 3, 4)
        $steps[3].Loss | Should -BeLessThan $steps[0].Loss
    }

    It 'expands wildcards, skipping folders without a run' {
        (Get-XTunerRun $TestDrive/runs/*).WorkDir | Should -Be @([System.IO.Path]::GetFullPath("$TestDrive/runs/a"), [System.IO.Path]::GetFullPath("$TestDrive/runs/b"))
    }

    It 'takes runs and folders from the pipeline by property name' {
        (Get-XTunerRun $TestDrive/runs/b | Get-XTunerRun).Step | Should -Be 2
        ([System.IO.DirectoryInfo]::new("$TestDrive/runs/b") | Get-XTunerRun).Step | Should -Be 2
    }

    It 'writes XTunerRunNotFound for a folder without a run, and goes on' {
        $runs = Get-XTunerRun $TestDrive/runs/empty, $TestDrive/runs/b -ErrorVariable errors -ErrorAction SilentlyContinue
        $runs | Should -HaveCount 1
        $errors | Should -HaveCount 1
        $errors[0].FullyQualifiedErrorId | Should -Be 'XTunerRunNotFound,XTuner.PowerShell.Commands.GetXTunerRunCommand'
        "$($errors[0].CategoryInfo.Category)" | Should -Be 'ObjectNotFound'
    }
}

Describe 'Stop-XTunerTraining' {
    # Each It that sets a fake mode leaves the next one the default (training ranks).
    AfterEach {
        $env:XTUNER_FAKE_MODE = $null
    }

    It 'stops a run started elsewhere; no rank is left' {
        $env:XTUNER_FAKE_MODE = 'hang'
        $job = $tiny | Start-XTunerTraining -WorkDir $TestDrive/elsewhere -AsJob
        $started = Wait-RunStarted $TestDrive/elsewhere
        $run = Stop-XTunerTraining $TestDrive/elsewhere -PassThru
        "$($run.State)" | Should -Be 'Stopped'
        Test-AnyAlive $started | Should -BeFalse
        $null = $job | Wait-Job -Timeout 30
        "$($job.State)" | Should -Be 'Stopped'
        $null = $job | Receive-Job -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors | Should -BeNullOrEmpty
        $job | Remove-Job
    }

    It 'takes the run from the pipeline' {
        $env:XTUNER_FAKE_MODE = 'hang'
        $job = $tiny | Start-XTunerTraining -WorkDir $TestDrive/piped -AsJob
        $started = Wait-RunStarted $TestDrive/piped
        $started | Stop-XTunerTraining
        Test-AnyAlive $started | Should -BeFalse
        "$((Get-XTunerRun $TestDrive/piped).State)" | Should -Be 'Stopped'
        $job | Remove-Job -Force
    }

    It 'stops nothing with -WhatIf' {
        $env:XTUNER_FAKE_MODE = 'hang'
        $job = $tiny | Start-XTunerTraining -WorkDir $TestDrive/whatifstop -AsJob
        try {
            $started = Wait-RunStarted $TestDrive/whatifstop
            Stop-XTunerTraining $TestDrive/whatifstop -WhatIf
            "$((Get-XTunerRun $TestDrive/whatifstop).State)" | Should -Be 'Running'
            @($started.Ranks | Where-Object { [XTuner.Core.Launch.ProcessSignals]::IsAlive($_.ProcessId) }) | Should -HaveCount 2
        }
        finally {
            $job | Stop-Job
        }
    }

    It 'leaves a run that has ended as it is' {
        $tiny | Start-XTunerTraining -MaxSteps 1 -WorkDir $TestDrive/ended
        "$((Stop-XTunerTraining $TestDrive/ended -PassThru).State)" | Should -Be 'Completed'
    }

    It 'writes XTunerRunNotFound for a folder without a run' {
        Stop-XTunerTraining $TestDrive/nothing-here -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors[0].FullyQualifiedErrorId | Should -Be 'XTunerRunNotFound,XTuner.PowerShell.Commands.StopXTunerTrainingCommand'
    }
}
