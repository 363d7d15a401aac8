<#
.SYNOPSIS
    Explores the built-in catalogue: which recipes fit a machine, exported as YAML files to edit, each checked.
    Run after Import-Module ./XTuner.psd1:  ./examples/powershell/catalogue.ps1 -OutputFolder ./configs
#>
param(
    # Where the YAML files go.
    [string] $OutputFolder = [System.IO.Path]::Combine($PWD.Path, 'configs'),
    # GPUs available.
    [int] $Gpus = 8
)

[System.IO.Directory]::CreateDirectory($OutputFolder) | Out-Null
$fits = Get-XTunerConfig | Where-Object { $_.WorldSize -le $Gpus -and $_.Device -eq 'Cuda' }
$fits | Export-XTunerConfig -Path $OutputFolder -Force
foreach ($config in $fits) {
    $file = [System.IO.Path]::Combine($OutputFolder, "$($config.Name).yaml")
    $errors = @(Test-XTunerConfig -Path $file | Where-Object Severity -eq 'Error')
    [pscustomobject]@{ Name = $config.Name; MaxLength = $config.MaxLength; SP = $config.SequenceParallelSize; GPUs = $config.WorldSize; Errors = $errors.Count; File = $file }
}
