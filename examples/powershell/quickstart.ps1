<#
.SYNOPSIS
    Builds a config in the pipeline, checks it, trains it with sequence parallelism on two CPU processes and shows
    how the loss fell. Run after Import-Module ./XTuner.psd1:  ./examples/powershell/quickstart.ps1
#>
param(
    # Where the run's logs, metrics and model go.
    [string] $WorkDir = [System.IO.Path]::Combine($PWD.Path, 'work_dirs', 'quickstart'),
    # Optimizer steps.
    [int] $MaxSteps = 30
)

$config = New-XTunerConfig -Template tiny-llama -Name quickstart -MaxSteps $MaxSteps | Set-SequenceParallel -Size 2
$errors = @($config | Test-XTunerConfig | Where-Object Severity -eq 'Error')
if ($errors.Count -gt 0) { throw "The config would not train: $($errors[0].Message)" }

$run = $config | Start-XTunerTraining -WorkDir $WorkDir -PassThru
$steps = @(Get-XTunerRun -WorkDir $WorkDir -Metrics)
"Trained $($steps.Count) steps on $($run.WorldSize) ranks (SP $($run.SequenceParallelSize)): loss {0:N3} -> {1:N3}; model in {2}" -f $steps[0].Loss, $steps[-1].Loss, $run.ModelDirectory
$run
