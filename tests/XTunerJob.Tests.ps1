# Get-XTunerJob, Wait-XTunerJob and Stop-XTunerJob against a real SLURM controller (.ci/slurm-setup.sh starts a
# one-node cluster), with bash scripts standing in for the xtuner ranks of tiny-llama-sp2 (two CPU ranks, so one job
# fills the two-CPU node and a second one waits). Without a cluster the tests are skipped; in CI (CI=true) they run
# and fail instead.

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

AfterAll {
    foreach ($id in $submitted) { & scancel $id 2>$null }
}

Describe 'SLURM jobs (these need a cluster: .ci/slurm-setup.sh)' -Skip:$skip {
    It 'Get-XTunerJob follows a job from Pending through Running to Completed, with its metrics' {
        $first = Submit-FakeJob first 'touch "$work/started.$SLURM_PROCID"; while [ ! -e "$work/go" ]; do sleep 0.1; done'
        $second = Submit-FakeJob second @'
if [ "$SLURM_PROCID" = 0 ]; then
    for s in 1 2 3; do echo "{\"step\":$s,\"total_steps\":3,\"loss\":$((10 - s)).25}" >> "$work/metrics.jsonl"; done
fi
'@
        $first | Should -BeOfType XTuner.Core.Slurm.XTunerJob
        $null = Wait-JobState $first.JobId { param($j) "$($j.State)" -eq 'Running' -and [System.IO.File]::Exists("$TestDrive/first/started.1") }
        # The node's two CPUs are taken: the second job waits for them.
        $waiting = Get-XTunerJob -JobId $second.JobId
        "$($waiting.State)" | Should -Be 'Pending'
        $waiting.Reason | Should -BeIn 'Resources', 'Priority'
        @(Get-XTunerJob).JobId | Should -Contain $second.JobId

        [System.IO.File]::WriteAllText("$TestDrive/first/go", '')
        $done = $first | Wait-XTunerJob -PollInterval 0.2
        "$($done.State)" | Should -Be 'Completed'
        $done.ExitCode | Should -Be 0

        $null = Wait-JobState $second.JobId { param($j) "$($j.State)" -in 'Running', 'Completing', 'Completed' }
        $done = Wait-XTunerJob -WorkDir "$TestDrive/second" -PollInterval 0.2
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
        { $job | Wait-XTunerJob -PollInterval 0.2 -ErrorAction Stop } | Should -Throw -ErrorId 'XTunerJobFailed,*'
        $job | Wait-XTunerJob -PollInterval 0.2 -ErrorAction SilentlyContinue -ErrorVariable failed
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
        "$((Wait-XTunerJob -JobId $job.JobId).State)" | Should -Be 'Cancelled'
    }

    It 'Get-XTunerJob -JobId of a job SLURM does not know is XTunerJobNotFound' {
        { Get-XTunerJob -JobId 987654321 -ErrorAction Stop } | Should -Throw -ErrorId 'XTunerJobNotFound,*'
        { Get-XTunerJob -WorkDir "$TestDrive/never-submitted" -ErrorAction Stop } | Should -Throw -ErrorId 'XTunerJobNotFound,*'
    }
}
