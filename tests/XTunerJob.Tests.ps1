# Get-XTunerJob, Wait-XTunerJob and Stop-XTunerJob against a real SLURM controller (.ci/slurm-setup.sh starts a
# one-node cluster): first with bash scripts standing in for the xtuner ranks of tiny-llama-sp2 (two CPU ranks, so one
# job fills the two-CPU node and a second one waits), then with real training by the built xtuner. Without a cluster
# the tests are skipped; in CI (CI=true) they run and fail instead.

BeforeDiscovery {
    $clusterUp = $null -ne (Get-Command sinfo -CommandType Application -ErrorAction Ignore) -and
        "$(& sinfo --noheader --format=%T 2>$null)" -match '^(idle|mixed|alloc)'
    $skip = -not $clusterUp -and $env:CI -ne 'true'
}

BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
    $state = if (Get-Command sinfo -CommandType Application -ErrorAction Ignore) { "$(& sinfo --noheader --format=%T 2>&1)" } else { 'no sinfo on PATH' }
    if ($state -notmatch '^(idle|mixed|alloc)') {
        throw "SLURM is not set up ($state): run .ci/slurm-setup.sh as root to start a one-node cluster."
    }
    $submitted = [System.Collections.Generic.List[string]]::new()

    # Submits tiny-llama-sp2 with each rank running $RankScript under bash ($work is the work dir, $SLURM_PROCID the rank).
    function Submit-FakeJob([string] $Name, [string] $RankScript) {
        $rank = "$TestDrive/$Name.sh"
        [System.IO.File]::WriteAllText($rank, "work=`$(dirname `"`$2`")`n$RankScript`n")
        $options = [XTuner.Core.Launch.LaunchOptions]::new()
        $options.BaseDirectory = "$TestDrive"
        $options.WorkDir = "$TestDrive/$Name"
        $options.Worker = [XTuner.Core.Launch.WorkerCommand]::new('/bin/bash', [string[]] @($rank))
        $plan = [XTuner.Core.Slurm.SlurmLauncher]::Plan((Get-XTunerConfig tiny-llama-sp2), $options)
        $plan.AllocationJobId = $null
        $job = [XTuner.Core.Slurm.SlurmLauncher]::Submit($plan, $null, [System.Threading.CancellationToken]::None, $null)
        $submitted.Add($job.JobId)
        $job
    }

    # Polls Get-XTunerJob until $Condition holds for the job, and returns it.
    function Wait-JobState([string] $JobId, [scriptblock] $Condition) {
        $deadline = [DateTime]::UtcNow.AddMinutes(3)
        while ([DateTime]::UtcNow -lt $deadline) {
            $job = Get-XTunerJob -JobId $JobId
            if (& $Condition $job) { return $job }
            [System.Threading.Thread]::Sleep(200)
        }
        throw "Job $JobId stayed $($job.StateText) ($($job.Reason))."
    }

    # Pids of processes whose command line holds $Marker.
    function Get-ProcessWith([string] $Marker) {
        foreach ($dir in [System.IO.Directory]::GetDirectories('/proc')) {
            $name = [System.IO.Path]::GetFileName($dir)
            if ($name -notmatch '^\d+$') { continue }
            try { if ([System.IO.File]::ReadAllText("$dir/cmdline").Contains($Marker)) { [int] $name } } catch [System.IO.IOException] { }
        }
    }
}

Describe 'SLURM jobs (these need a cluster: .ci/slurm-setup.sh)' -Skip:$skip {
    # No job outlives its test: a job left running would hold the node and stall the next test's jobs.
    AfterEach {
        foreach ($id in $submitted) { & scancel $id 2>$null }
        $submitted.Clear()
    }

    It 'Get-XTunerJob follows a job from Pending through Running to Completed, with its metrics' {
        $first = Submit-FakeJob first 'touch "$work/started.$SLURM_PROCID"; while [ ! -e "$work/go" ]; do sleep 0.1; done'
        $second = Submit-FakeJob second @'
if [ "$SLURM_PROCID" = 0 ]; then
    for s in 1 2 3; do echo "{\"step\":$s,\"total_steps\":3,\"loss\":$((10 - s)).25}" >> "$work/metrics.jsonl"; done
fi
'@
        $first | Should -BeOfType XTuner.Core.Slurm.XTunerJob
        $null = Wait-JobState $first.JobId { param($j) "$($j.State)" -eq 'Running' -and [System.IO.File]::Exists("$TestDrive/first/started.1") }
        # The node's two CPUs are taken: the second job waits for them (once the scheduler has looked at it).
        $waiting = Wait-JobState $second.JobId { param($j) $j.Reason -in 'Resources', 'Priority' }
        "$($waiting.State)" | Should -Be 'Pending'
        @(Get-XTunerJob).JobId | Should -Contain $second.JobId

        [System.IO.File]::WriteAllText("$TestDrive/first/go", '')
        $done = $first | Wait-XTunerJob -Timeout 180 -PollInterval 0.2
        "$($done.State)" | Should -Be 'Completed'
        $done.ExitCode | Should -Be 0

        $null = Wait-JobState $second.JobId { param($j) "$($j.State)" -in 'Running', 'Completing', 'Completed' }
        $done = Wait-XTunerJob -WorkDir "$TestDrive/second" -Timeout 180 -PollInterval 0.2
        "$($done.State)" | Should -Be 'Completed'
        $done.Nodes | Should -Be 'localhost'
        $done.Ranks | Should -Be 2
        $done.Step | Should -Be 3
        $done.TotalSteps | Should -Be 3
        $done.Loss | Should -Be 7.25
        "$((Get-XTunerJob -WorkDir "$TestDrive/second").State)" | Should -Be 'Completed'
    }

    It 'Wait-XTunerJob reports a failed job as XTunerJobFailed naming the failing rank and its log' {
        $job = Submit-FakeJob failing @'
if [ "$SLURM_PROCID" = 1 ]; then echo "error [XTunerPathNotFound]: /no/such/data.jsonl does not exist" >&2; exit 2; fi
exec sleep 120
'@
        { $job | Wait-XTunerJob -Timeout 180 -PollInterval 0.2 -ErrorAction Stop } | Should -Throw -ErrorId 'XTunerJobFailed,*'
        $job | Wait-XTunerJob -Timeout 180 -PollInterval 0.2 -ErrorAction SilentlyContinue -ErrorVariable failed
        $failed | Should -HaveCount 1
        $failed[0].Exception.Message | Should -BeLike "*rank 1 on localhost: Exited with exit code 2*$TestDrive/failing/logs/rank1.log*/no/such/data.jsonl does not exist*"
        "$($failed[0].TargetObject.State)" | Should -Be 'Failed'
    }

    It 'Stop-XTunerJob cancels a running job and no rank process is left' {
        $marker = "xtuner-fake-rank-$([guid]::NewGuid().ToString('N'))"
        $job = Submit-FakeJob long "touch `"`$work/started.`$SLURM_PROCID`"; exec -a $marker sleep 300"
        $null = Wait-JobState $job.JobId { param($j) "$($j.State)" -eq 'Running' -and [System.IO.File]::Exists("$TestDrive/long/started.0") -and [System.IO.File]::Exists("$TestDrive/long/started.1") }
        @(Get-ProcessWith $marker) | Should -HaveCount 2

        { Wait-XTunerJob -JobId $job.JobId -Timeout 1 -PollInterval 0.2 -ErrorAction Stop } | Should -Throw -ErrorId 'XTunerJobWaitTimeout,*'
        Stop-XTunerJob -JobId $job.JobId -WhatIf
        "$((Get-XTunerJob -JobId $job.JobId).State)" | Should -Be 'Running'

        $stopped = $job | Stop-XTunerJob -Confirm:$false -PassThru
        "$($stopped.State)" | Should -Be 'Cancelled'
        @(Get-ProcessWith $marker) | Should -HaveCount 0
        "$((Wait-XTunerJob -JobId $job.JobId -Timeout 60).State)" | Should -Be 'Cancelled'
    }

    It 'Get-XTunerJob -JobId of a job SLURM does not know is XTunerJobNotFound' {
        { Get-XTunerJob -JobId 987654321 -ErrorAction Stop } | Should -Throw -ErrorId 'XTunerJobNotFound,*'
        { Get-XTunerJob -WorkDir "$TestDrive/never-submitted" -ErrorAction Stop } | Should -Throw -ErrorId 'XTunerJobNotFound,*'
    }
}

Describe 'training under SLURM (these need a cluster: .ci/slurm-setup.sh)' -Skip:$skip {
    # No job outlives its test: a job left running would hold the node and stall the next test's jobs.
    AfterEach {
        foreach ($id in $submitted) { & scancel $id 2>$null }
        $submitted.Clear()
    }

    BeforeAll {
        $dotnet = [XTuner.Core.Launch.WorkerLocator]::DotnetHost()
        $xtuner = [System.IO.Path]::GetFullPath("$PSScriptRoot/../bin/xtuner/xtuner.dll")
        if (-not [System.IO.File]::Exists($xtuner)) { throw "$xtuner is missing: build the solution (dotnet build)." }

        # Plans tiny-llama-sp2 (2 CPU ranks, SP=2) for SLURM with the built xtuner as the ranks.
        function New-TrainingPlan([string] $Name, [string[]] $Options) {
            $launch = [XTuner.Core.Launch.LaunchOptions]::new()
            $launch.BaseDirectory = "$TestDrive"
            $launch.WorkDir = "$TestDrive/$Name"
            foreach ($option in $Options) { $launch.ConfigOptions.Add($option) }
            $plan = [XTuner.Core.Slurm.SlurmLauncher]::Plan((Get-XTunerConfig tiny-llama-sp2), $launch)
            $plan.AllocationJobId = $null
            $plan
        }

        function Submit-Plan($Plan) {
            $job = [XTuner.Core.Slurm.SlurmLauncher]::Submit($Plan, $null, [System.Threading.CancellationToken]::None, $null)
            $submitted.Add($job.JobId)
            $job
        }

        # The same config trained here by xtuner's local launcher; returns its losses.
        function Get-LocalLosses([string] $Name, [int] $Steps) {
            $log = & $dotnet $xtuner train tiny-llama-sp2 --work-dir "$TestDrive/$Name" --max-steps $Steps 2>&1
            if ($LASTEXITCODE -ne 0) { throw "xtuner train failed ($LASTEXITCODE): $log" }
            [XTuner.Core.Runs.MetricsFile]::Read("$TestDrive/$Name").Loss
        }
    }

    It 'trains tiny-llama-sp2 as a 2-task SP=2 job with the same losses as a local SP=2 run' {
        $plan = New-TrainingPlan slurm-sp2 'max_steps=3'
        "$plan" | Should -BeLike '*#SBATCH --ntasks-per-node=2*srun --nodes=1 --ntasks=2 *train*--launcher slurm*'
        $done = Submit-Plan $plan | Wait-XTunerJob -Timeout 180 -PollInterval 0.5
        "$($done.State)" | Should -Be 'Completed'
        $done.Ranks | Should -Be 2
        $done.Step | Should -Be 3
        $losses = [XTuner.Core.Runs.MetricsFile]::Read($done.WorkDir).Loss
        $losses | Should -HaveCount 3
        $losses | Should -Be (Get-LocalLosses local-sp2 3)
        [System.IO.File]::ReadAllText("$($done.WorkDir)/logs/rank0.log") | Should -BeLike '*rank 0 of 2*slurm*step 3/3*'
    }

    It 'Start-XTunerTraining -Launcher Slurm submits the job that Wait-XTunerJob sees complete, with the losses of a local run' {
        $job = Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -Launcher Slurm -Device Cpu -MaxSteps 3 -WorkDir "$TestDrive/cmdlet-sp2"
        $submitted.Add($job.JobId)
        $job.Ranks | Should -Be 2
        "$TestDrive/cmdlet-sp2/submit.sbatch" | Should -Exist
        $done = $job | Wait-XTunerJob -Timeout 180 -PollInterval 0.5
        "$($done.State)" | Should -Be 'Completed'
        [XTuner.Core.Runs.MetricsFile]::Read($done.WorkDir).Loss | Should -Be (Get-LocalLosses local-sp2-cmdlet 3)
    }

    It 'Start-XTunerTraining -Launcher Slurm -WhatIf shows the sbatch script and submits nothing' {
        $result = Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -Launcher Slurm -Device Cpu -WorkDir "$TestDrive/whatif" -WhatIf -InformationVariable info
        $result | Should -BeNullOrEmpty
        "$($info[0].MessageData)" | Should -BeLike '*#SBATCH --ntasks-per-node=2*srun*--launcher slurm*'
        "$TestDrive/whatif/submit.sbatch" | Should -Not -Exist
    }

    It 'ends a job whose data path does not exist with XTunerJobFailed naming the failing rank and its log' {
        $plan = New-TrainingPlan bad-data 'max_steps=3'
        # As if the data were missing on the compute nodes: the config the ranks read names a path that does not exist.
        $plan.Config.DataFiles = [System.Collections.Generic.List[string]] @("$TestDrive/no-such-dir/data.jsonl")
        $job = Submit-Plan $plan
        $job | Wait-XTunerJob -Timeout 180 -PollInterval 0.5 -ErrorAction SilentlyContinue -ErrorVariable failed | Should -BeNullOrEmpty
        $failed | Should -HaveCount 1
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'XTunerJobFailed,*'
        $message = $failed[0].Exception.Message
        $named = [regex]::Match($message, 'rank (\d) on localhost: Exited with exit code 1\. Its log is (\S+); last lines:')
        $named.Success | Should -BeTrue -Because $message
        $named.Groups[2].Value | Should -Be "$TestDrive/bad-data/logs/rank$($named.Groups[1].Value).log"
        $message | Should -BeLike "*no-such-dir/data.jsonl*does not exist*"
    }

    It 'delivers SIGUSR1 to the ranks (as --signal does before the time limit): they checkpoint and train on' {
        # save_steps 0: no checkpoint but the one the signal asks for.
        $job = Submit-Plan (New-TrainingPlan signalled 'max_steps=30', 'save_steps=0')
        $deadline = [DateTime]::UtcNow.AddMinutes(2)
        while (@([XTuner.Core.Runs.MetricsFile]::Read("$TestDrive/signalled")).Count -lt 2) {
            if ([DateTime]::UtcNow -gt $deadline) { throw 'The job did not train.' }
            [System.Threading.Thread]::Sleep(50)
        }
        # Without --batch (B: in --signal), scancel signals the job's steps: every rank, not the batch shell.
        & scancel --signal=USR1 $job.JobId
        $LASTEXITCODE | Should -Be 0
        $done = $job | Wait-XTunerJob -Timeout 180 -PollInterval 0.5
        "$($done.State)" | Should -Be 'Completed'
        $done.Step | Should -Be 30
        @([System.IO.Directory]::GetDirectories("$TestDrive/signalled/checkpoints", 'step-*')) | Should -HaveCount 1
        [System.IO.File]::ReadAllText("$TestDrive/signalled/logs/rank0.log") | Should -BeLike '*checkpoint saved*'
    }

    It 'resumes a requeued job from its checkpoint and ends with the losses of an uninterrupted run' {
        $job = Submit-Plan (New-TrainingPlan requeued 'max_steps=10', 'save_steps=1')
        $deadline = [DateTime]::UtcNow.AddMinutes(2)
        $checkpoints = "$TestDrive/requeued/checkpoints"
        while (-not [System.IO.Directory]::Exists($checkpoints) -or
            @([System.IO.Directory]::GetDirectories($checkpoints, 'step-*') | Where-Object { $_ -notlike '*.tmp' }).Count -eq 0) {
            if ([DateTime]::UtcNow -gt $deadline) { throw 'No checkpoint was written.' }
            [System.Threading.Thread]::Sleep(50)
        }
        & scontrol requeue $job.JobId
        $LASTEXITCODE | Should -Be 0
        $done = $job | Wait-XTunerJob -Timeout 180 -PollInterval 0.5
        "$($done.State)" | Should -Be 'Completed'
        $done.Restarts | Should -Be 1
        [System.IO.File]::ReadAllText("$TestDrive/requeued/logs/rank0.log") | Should -BeLike '*resumed from*checkpoints/step-*'
        $losses = [XTuner.Core.Runs.MetricsFile]::Read("$TestDrive/requeued").Loss
        $losses | Should -Be (Get-LocalLosses uninterrupted 10)
        $done.Loss | Should -Be $losses[-1]
    }
}
