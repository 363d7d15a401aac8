<#
.SYNOPSIS
    Trains a config as a SLURM job from PowerShell and follows it to the end: Llama2-7B with 128k-token sequences,
    8-way sequence parallel, on 2 nodes of 8 GPUs by default. Run on a login node after Import-Module ./XTuner.psd1:
        ./examples/slurm/train.ps1 -Partition gpu -Time 2-00:00:00
    -WhatIf prints the sbatch script instead of submitting it.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    # A built-in config (Get-XTunerConfig lists them) or a YAML file.
    [string] $Config = 'llama2-7b-full-128k-sp8',
    [int] $Nodes = 2,
    [int] $GpusPerNode = 8,
    [string] $Partition,
    [string] $Account,
    # sbatch --time; the ranks checkpoint slurm.signal_seconds (default 120) before it runs out.
    [string] $Time = '1-00:00:00',
    [string] $WorkDir = [System.IO.Path]::Combine($PWD.Path, 'work_dirs', 'slurm-' + [System.IO.Path]::GetFileNameWithoutExtension($Config))
)

$options = @{ nodes = $Nodes; 'slurm.time' = $Time }
if ($Partition) { $options['slurm.partition'] = $Partition }
if ($Account) { $options['slurm.account'] = $Account }
$cfg = if (Test-Path $Config) { Get-XTunerConfig -Path $Config } else { Get-XTunerConfig $Config }

$job = $cfg | Set-XTunerConfig -Option $options |
    Start-XTunerTraining -Launcher Slurm -Device Cuda -GpusPerNode $GpusPerNode -WorkDir $WorkDir -WhatIf:$WhatIfPreference
if ($job) {
    "Submitted SLURM job $($job.JobId): $($job.Ranks) ranks; logs in $($job.LogDirectory)"
    # A failed job is an error naming the rank that failed first and its log; Ctrl+C stops waiting, not the job.
    $job | Wait-XTunerJob
}
