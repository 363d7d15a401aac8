BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
}

Describe 'Get-XTunerConfig' {
    Context 'the built-in catalogue' {
        It 'lists every built-in config without parameters' {
            $configs = Get-XTunerConfig
            $configs.Count | Should -BeGreaterThan 10
            $configs | Should -BeOfType XTuner.Core.Configuration.XTunerConfig
            $configs.Name | Should -Contain 'tiny-llama'
            $configs.Name | Should -Contain 'llama2-7b-full-1m-sp16'
        }

        It 'lists the catalogue in name order' {
            $names = (Get-XTunerConfig).Name
            $sorted = [string[]] $names.Clone()
            [array]::Sort($sorted, [System.StringComparer]::Ordinal)
            $names | Should -Be $sorted
        }

        It 'matches the wildcard <Pattern> like -like does' -TestCases @(
            @{ Pattern = 'llama2-7b*' }
            @{ Pattern = '*-sp8' }
            @{ Pattern = 'tiny-llama?sp2' }
            @{ Pattern = 'YI-34B*' }
        ) {
            $expected = @((Get-XTunerConfig).Name | Where-Object { $_ -like $Pattern })
            $expected.Count | Should -BeGreaterThan 0
            (Get-XTunerConfig $Pattern).Name | Should -Be $expected
        }

        It 'returns nothing, and no error, for a wildcard that matches nothing' {
            $configs = Get-XTunerConfig 'no-such-config*' -ErrorVariable errors
            $configs | Should -BeNullOrEmpty
            $errors | Should -BeNullOrEmpty
        }

        It 'finds an exact name whatever its case' {
            (Get-XTunerConfig TINY-LLAMA).Name | Should -BeExactly 'tiny-llama'
        }

        It 'takes names from the pipeline' {
            $configs = 'tiny-llama', 'tiny-llama-sp2' | Get-XTunerConfig
            $configs.Name | Should -Be @('tiny-llama', 'tiny-llama-sp2')
        }

        It 'returns a fresh copy each time, so changing one leaves the catalogue as it was' {
            $first = Get-XTunerConfig tiny-llama
            $first.MaxLength = 1
            $first.DataFiles.Add('changed.jsonl')
            $again = Get-XTunerConfig tiny-llama
            $again.MaxLength | Should -Be 256
            $again.DataFiles | Should -Not -Contain 'changed.jsonl'
        }

        It 'writes XTunerConfigNotFound for an unknown name, suggesting the closest one' {
            { Get-XTunerConfig tiny-lama -ErrorAction Stop } |
                Should -Throw -ErrorId 'XTunerConfigNotFound,*' -ExpectedMessage "*Did you mean 'tiny-llama'*"
        }

        It 'keeps going after an unknown name: the error is non-terminating, with the name as target' {
            $configs = Get-XTunerConfig nope, tiny-llama -ErrorVariable errors -ErrorAction SilentlyContinue
            $configs.Name | Should -Be 'tiny-llama'
            $errors | Should -HaveCount 1
            $errors[0].FullyQualifiedErrorId | Should -Be 'XTunerConfigNotFound,XTuner.PowerShell.Commands.GetXTunerConfigCommand'
            $errors[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $errors[0].TargetObject | Should -Be 'nope'
        }

        It 'completes <Line> with the catalogue names' -TestCases @(
            @{ Line = 'Get-XTunerConfig tiny'; Expected = @('tiny-llama', 'tiny-llama-sp2') }
            @{ Line = 'Get-XTunerConfig -Name llama2-70b-full-1'; Expected = @('llama2-70b-full-128k-sp8', 'llama2-70b-full-1m-sp64') }
            @{ Line = 'New-XTunerConfig -Template qwen'; Expected = @('qwen2-7b-full-128k-sp8') }
            @{ Line = 'Test-XTunerConfig -Name command'; Expected = @('command-r-plus-full-128k-sp32') }
        ) {
            $completion = TabExpansion2 -inputScript $Line -cursorColumn $Line.Length
            $completion.CompletionMatches.CompletionText | Should -Be $Expected
        }
    }

    Context '-Path' {
        BeforeAll {
            $file = "$TestDrive/tiny.yaml"
            Get-XTunerConfig tiny-llama-sp2 | Export-XTunerConfig -Path $file
        }

        It 'reads a YAML file written by Export-XTunerConfig' {
            $config = Get-XTunerConfig -Path $file
            $config.Name | Should -Be 'tiny-llama-sp2'
            $config.SequenceParallelSize | Should -Be 2
            $config.SourcePath | Should -Be $file
        }

        It 'takes files from the pipeline by their FullName' {
            $config = [System.IO.FileInfo]::new($file) | Get-XTunerConfig
            $config.Name | Should -Be 'tiny-llama-sp2'
        }

        It 'resolves PowerShell paths such as TestDrive:' {
            (Get-XTunerConfig -Path 'TestDrive:/tiny.yaml').SourcePath | Should -Be $file
        }

        It 'reports every unknown key with file, line and the closest valid key' {
            [System.IO.File]::WriteAllText("$TestDrive/typo.yaml", "name: typo`nmax_lenght: 512`nslurm:`n  partitoin: gpu`n")
            $config = Get-XTunerConfig -Path "$TestDrive/typo.yaml" -ErrorVariable errors -ErrorAction SilentlyContinue
            $config | Should -BeNullOrEmpty
            $errors[0].FullyQualifiedErrorId | Should -BeLike 'XTunerUnknownConfigKey,*'
            $errors[0].Exception.Message | Should -BeLike "*typo.yaml:2:1: Unknown key 'max_lenght'. Did you mean 'max_length'?*"
            $errors[0].Exception.Message | Should -BeLike "*typo.yaml:4:3: Unknown key 'partitoin'. Did you mean 'partition'?*"
        }

        It 'writes XTunerConfigFileNotFound for a missing file' {
            { Get-XTunerConfig -Path "$TestDrive/missing.yaml" -ErrorAction Stop } | Should -Throw -ErrorId 'XTunerConfigFileNotFound,*'
        }
    }
}
