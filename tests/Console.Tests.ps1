# What a person sees in an 80-column terminal: the config table and the training progress bar. The progress bar is
# drawn by a real pwsh in a pseudo-terminal (script(1)) of 80 columns, as a user's console draws it.

BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force

    # Runs $Script in a new pwsh whose terminal is $Columns wide; returns what it drew, escape sequences removed.
    function Invoke-InTerminal([string] $Script, [int] $Columns = 80) {
        $file = "$TestDrive/terminal-$([guid]::NewGuid().ToString('N')).ps1"
        [System.IO.File]::WriteAllText($file, $Script)
        $self = [Environment]::ProcessPath
        $pwsh = if ([System.IO.Path]::GetFileNameWithoutExtension($self) -eq 'dotnet') { "'$self' '$PSHOME/pwsh.dll'" } else { "'$self'" }
        $drawn = & script -qfec "stty cols $Columns rows 24; $pwsh -NoProfile -NonInteractive -File '$file'" /dev/null
        ($drawn -join "`n") -replace '\x1b\[[0-9;?]*[A-Za-z]', '' -replace '\x1b[=>]', ''
    }
}

Describe 'Get-XTunerConfig at 80 columns' {
    BeforeAll {
        $lines = @((Get-XTunerConfig | Out-String -Width 80) -split "`r?`n" | Where-Object { $_.Trim() })
    }

    It 'shows every column on one header line, named as the properties' {
        $lines[0] -split '\s+' | Where-Object { $_ } | Should -Be @('Name', 'ModelName', 'MaxLength', 'SP', 'GPUs')
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 80 }
    }

    It 'shows each config''s whole name and its GPUs' {
        foreach ($config in Get-XTunerConfig) {
            $row = @($lines | Where-Object { $_ -like "$($config.Name) *" })
            $row | Should -HaveCount 1 -Because "'$($config.Name)' has one row"
            $row[0] | Should -Match "\s$($config.SequenceParallelSize)\s+$($config.WorldSize)$"
        }
    }

    It 'filters by the column names: Where-Object <Column> finds what the table shows' -TestCases @(
        @{ Column = 'ModelName'; Value = 'Qwen/Qwen2-7B'; Expected = 'qwen2-7b-full-128k-sp8' }
        @{ Column = 'SP'; Value = 64; Expected = 'llama2-70b-full-1m-sp64' }
        @{ Column = 'GPUs'; Value = 2; Expected = 'tiny-llama-sp2' }
    ) {
        (Get-XTunerConfig | Where-Object $Column -EQ $Value).Name | Should -Be $Expected
    }

    It 'leaves the Model property the model section it is' {
        (Get-XTunerConfig tiny-llama).Model | Should -BeOfType XTuner.Core.Configuration.ModelSpec
    }

    It 'keeps the descriptions in a view of their own' {
        $text = Get-XTunerConfig tiny-llama | Format-Table -View Description | Out-String -Width 80
        $text | Should -BeLike '*Description*Tiny Llama (8 heads*'
    }
}

Describe 'The training progress bar at 80 columns' {
    It 'shows step, loss, tokens/s/GPU and ETA beside a config name of <Name>' -TestCases @(
        @{ Name = 'tiny-llama-sp2' }
        @{ Name = 'llama2-70b-full-256k-sp16' }
    ) {
        $drawn = Invoke-InTerminal @"
Import-Module '$PSScriptRoot/../XTuner.psd1'
`$env:XTUNER_WORKER = '$PSScriptRoot/fake-worker/xtuner'
`$env:XTUNER_FAKE_STEP_SECONDS = '0.4'
Get-XTunerConfig tiny-llama-sp2 | Set-XTunerConfig -Name '$Name' | Start-XTunerTraining -MaxSteps 3 -WorkDir '$TestDrive/$Name'
"@
        $drawn | Should -Match ([regex]::Escape("$Name [step 2/3 loss 2.0000 5,120 tok/s/GPU ETA 0:00") + ' *\]')
    }
}
