BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
}

Describe 'Export-XTunerConfig' {
    BeforeEach {
        # Each It writes into a folder of its own.
        $folder = [System.IO.Path]::Combine($TestDrive, [guid]::NewGuid().ToString('N'))
        $null = [System.IO.Directory]::CreateDirectory($folder)
        $previousLocation = $PWD.Path
        $null = $ExecutionContext.SessionState.Path.SetLocation($folder)
    }

    AfterEach {
        $null = $ExecutionContext.SessionState.Path.SetLocation($previousLocation)
    }

    It 'writes the config as YAML with XTuner''s key names' {
        Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path "$folder/tiny.yaml"
        "$folder/tiny.yaml" | Should -Exist
        $text = [System.IO.File]::ReadAllText("$folder/tiny.yaml")
        $text | Should -Match '(?m)^name: tiny-llama$'
        $text | Should -Match '(?m)^sequence_parallel_size: 1$'
        $text | Should -Match '(?m)^  num_attention_heads: 8$'
    }

    It 'resolves a relative path against the current location' {
        Get-XTunerConfig tiny-llama | Export-XTunerConfig ./relative.yaml
        "$folder/relative.yaml" | Should -Exist
    }

    It 'writes nothing to the pipeline unless -PassThru, which returns the file' {
        Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path ./quiet.yaml | Should -BeNullOrEmpty
        $file = Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path ./passthru.yaml -PassThru
        $file | Should -BeOfType System.IO.FileInfo
        $file.FullName | Should -Be ([System.IO.Path]::Combine($folder, 'passthru.yaml'))
    }

    It 'does not replace an existing file: XTunerConfigFileExists, and the file is unchanged' {
        [System.IO.File]::WriteAllText("$folder/taken.yaml", 'keep me')
        $errors = $null
        Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path ./taken.yaml -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors | Should -HaveCount 1
        $errors[0].FullyQualifiedErrorId | Should -Be 'XTunerConfigFileExists,XTuner.PowerShell.Commands.ExportXTunerConfigCommand'
        $errors[0].CategoryInfo.Category | Should -Be 'ResourceExists'
        $errors[0].TargetObject | Should -Be ([System.IO.Path]::Combine($folder, 'taken.yaml'))
        [System.IO.File]::ReadAllText("$folder/taken.yaml") | Should -Be 'keep me'
    }

    It 'replaces an existing file with -Force' {
        [System.IO.File]::WriteAllText("$folder/taken.yaml", 'replace me')
        Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path ./taken.yaml -Force
        (Get-XTunerConfig -Path ./taken.yaml).Name | Should -Be 'tiny-llama'
    }

    It 'writes nothing with -WhatIf' {
        Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path ./whatif.yaml -WhatIf
        "$folder/whatif.yaml" | Should -Not -Exist
        [System.IO.Directory]::GetFileSystemEntries($folder) | Should -BeNullOrEmpty
    }

    It 'writes NAME.yaml for each config into an existing folder' {
        $null = [System.IO.Directory]::CreateDirectory("$folder/configs")
        Get-XTunerConfig tiny* | Export-XTunerConfig -Path ./configs
        "$folder/configs/tiny-llama.yaml" | Should -Exist
        "$folder/configs/tiny-llama-sp2.yaml" | Should -Exist
    }

    It 'writes NAME.yaml into a folder named with a trailing /, creating it' {
        Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path ./new-folder/
        "$folder/new-folder/tiny-llama.yaml" | Should -Exist
    }

    It 'takes a path that does not exist yet as a folder when several configs arrive' {
        $files = Get-XTunerConfig tiny* | Export-XTunerConfig -Path ./new-folder -PassThru
        $files.FullName | Should -Be @([System.IO.Path]::Combine($folder, 'new-folder', 'tiny-llama.yaml'), [System.IO.Path]::Combine($folder, 'new-folder', 'tiny-llama-sp2.yaml'))
        (Get-XTunerConfig -Path ./new-folder/tiny-llama-sp2.yaml).SequenceParallelSize | Should -Be 2
    }

    It 'still takes a path that does not exist yet as the file for one config' {
        Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path ./single
        "$folder/single" | Should -Exist
        (Get-XTunerConfig -Path ./single).Name | Should -Be 'tiny-llama'
    }

    It 'refuses several configs to one existing file, even with -Force: XTunerSeveralConfigsOneFile, nothing written' -TestCases @(
        @{ Force = $false }, @{ Force = $true }
    ) {
        [System.IO.File]::WriteAllText("$folder/one.yaml", 'keep me')
        { Get-XTunerConfig tiny* | Export-XTunerConfig -Path ./one.yaml -Force:$Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'XTunerSeveralConfigsOneFile,*' -ExpectedMessage '*2 configs cannot go into one file*folder*'
        [System.IO.File]::ReadAllText("$folder/one.yaml") | Should -Be 'keep me'
    }

    It 'does not let a second config of the same name replace the first, even with -Force' {
        $errors = $null
        $a = Get-XTunerConfig tiny-llama
        $b = Get-XTunerConfig tiny-llama | Set-XTunerConfig -MaxSteps 7
        $files = $a, $b | Export-XTunerConfig -Path ./same/ -Force -PassThru -ErrorVariable errors -ErrorAction SilentlyContinue
        $files | Should -HaveCount 1
        $errors | Should -HaveCount 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'XTunerSeveralConfigsOneFile,*'
        "$($errors[0])" | Should -BeLike '*Set-XTunerConfig -Name*'
        (Get-XTunerConfig -Path ./same/tiny-llama.yaml).MaxSteps | Should -Be $a.MaxSteps
    }

    It 'writes the other configs when one cannot be written: XTunerConfigFileWriteFailed, and no partial file' {
        $null = [System.IO.Directory]::CreateDirectory("$folder/out/tiny-llama.yaml")
        $files = Get-XTunerConfig tiny* | Export-XTunerConfig -Path ./out -PassThru -ErrorVariable errors -ErrorAction SilentlyContinue
        $files.Name | Should -Be 'tiny-llama-sp2.yaml'
        $errors | Should -HaveCount 1
        $errors[0].FullyQualifiedErrorId | Should -Be 'XTunerConfigFileWriteFailed,XTuner.PowerShell.Commands.ExportXTunerConfigCommand'
        $errors[0].CategoryInfo.Category | Should -Be 'WriteError'
        $errors[0].TargetObject | Should -Be ([System.IO.Path]::Combine($folder, 'out', 'tiny-llama.yaml'))
        [System.IO.Directory]::GetFiles("$folder/out") | Should -Be @([System.IO.Path]::Combine($folder, 'out', 'tiny-llama-sp2.yaml'))
    }

    It 'leaves no temporary file behind' {
        Get-XTunerConfig tiny-llama | Export-XTunerConfig -Path ./tiny.yaml
        [System.IO.Directory]::GetFiles($folder) | Should -Be @([System.IO.Path]::Combine($folder, 'tiny.yaml'))
    }

    It 'refuses input that is not a config when binding' {
        { 'tiny-llama' | Export-XTunerConfig -Path ./x.yaml -ErrorAction Stop } | Should -Throw -ErrorId 'InputObjectNotBound,*'
    }
}
