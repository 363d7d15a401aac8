@{
    # The build stamps ModuleVersion from Directory.Build.props (<Version>); edit the version there.
    ModuleVersion          = '0.1.0'
    GUID                   = '5d0f3f5e-8c1b-4f0e-9a53-3a8f0c7d2b61'
    RootModule             = 'bin/XTuner.PowerShell.dll'
    Author                 = 'XTuner for PowerShell contributors'
    CompanyName            = 'XTuner for PowerShell contributors'
    Copyright              = 'Copyright (c) XTuner for PowerShell contributors'
    Description            = 'Train Hugging Face decoder models (Llama, Mistral, Qwen2, Yi, InternLM2, Cohere) on sequences up to a million tokens with exact Ulysses-style sequence parallelism, ZeRO and NCCL, from PowerShell.'
    PowerShellVersion      = '5.1'
    CompatiblePSEditions   = @('Core', 'Desktop')
    FormatsToProcess       = @('module/XTuner.Format.ps1xml')
    TypesToProcess         = @('module/XTuner.Types.ps1xml')
    CmdletsToExport        = @(
        'Get-XTunerJob'
        'Wait-XTunerJob'
        'Stop-XTunerJob'
        'Get-XTunerConfig'
        'New-XTunerConfig'
        'Set-SequenceParallel'
        'Set-XTunerConfig'
        'Export-XTunerConfig'
        'Test-XTunerConfig'
        'Start-XTunerTraining'
        'Get-XTunerRun'
        'Stop-XTunerTraining'
        'Initialize-XTunerDataset'
        'Get-XTunerPlan'
    )
    FunctionsToExport      = @()
    VariablesToExport      = @()
    AliasesToExport        = @()
    PrivateData            = @{
        PSData = @{
            Tags       = @('XTuner', 'LLM', 'Training', 'SequenceParallel', 'TorchSharp', 'SLURM', 'NCCL')
            ProjectUri = 'https://github.com/InternLM/xtuner'
        }
    }
}
