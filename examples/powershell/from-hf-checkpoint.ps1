<#
.SYNOPSIS
    Fine-tunes a Hugging Face checkpoint folder: here the tiny model that quickstart.ps1 exported, on the bundled chat
    sample, with SP 2. Any Llama/Mistral/Qwen2/Yi/InternLM2/Cohere checkpoint folder works the same way (on CUDA for
    real sizes). Run after quickstart.ps1:  ./examples/powershell/from-hf-checkpoint.ps1
#>
param(
    # A Hugging Face checkpoint folder (config.json, safetensors, tokenizer).
    [string] $Checkpoint = [System.IO.Path]::Combine($PWD.Path, 'work_dirs', 'quickstart', 'hf'),
    [string] $WorkDir = [System.IO.Path]::Combine($PWD.Path, 'work_dirs', 'from-hf'),
    [int] $MaxSteps = 10
)

$run = New-XTunerConfig -Template tiny-llama -Name from-hf -Model $Checkpoint -DataPath builtin:chat-sample -DatasetFormat Chat -PromptTemplate default -MaxSteps $MaxSteps |
    Set-SequenceParallel -Size 2 |
    Start-XTunerTraining -WorkDir $WorkDir -PassThru
"Fine-tuned {0}: loss {1:N3} after {2} steps; model in {3}" -f $Checkpoint, $run.Loss, $run.Step, $run.ModelDirectory
