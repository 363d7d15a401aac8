# Initialize-XTunerDataset with the real xtuner worker (bin/xtuner): the built-in sample tokenized into a run's dataset
# cache, reused, rebuilt, and read by the training run that follows.

BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
    $savedWorker = $env:XTUNER_WORKER
    $env:XTUNER_WORKER = $null
}

AfterAll {
    $env:XTUNER_WORKER = $savedWorker
}

Describe 'Initialize-XTunerDataset' {
    It 'tokenizes the data into the work dir''s dataset cache and returns the dataset' {
        $dataset = Get-XTunerConfig tiny-llama | Initialize-XTunerDataset -WorkDir $TestDrive/run
        $dataset.GetType().FullName | Should -Be 'XTuner.Core.Datasets.XTunerDataset'
        $dataset.Reused | Should -BeFalse
        $dataset.Format | Should -Be 'alpaca'
        $dataset.MaxLength | Should -Be 256
        $dataset.Samples | Should -Be 108
        $dataset.Sequences | Should -BeGreaterThan 0
        $dataset.SizeBytes | Should -BeGreaterThan 0
        [System.IO.Path]::GetDirectoryName($dataset.Path) | Should -Be ([System.IO.Path]::Combine($TestDrive, 'run', 'dataset_cache'))
        [System.IO.Path]::Combine($dataset.Path, 'manifest.json') | Should -Exist
    }

    It 'reuses the cache the second time, and -Force builds it anew' {
        $first = Initialize-XTunerDataset -Name tiny-llama -WorkDir $TestDrive/again
        $second = Initialize-XTunerDataset -Name tiny-llama -WorkDir $TestDrive/again
        $second.Reused | Should -BeTrue
        $second.Path | Should -Be $first.Path
        $second.Created | Should -Be $first.Created
        $rebuilt = Initialize-XTunerDataset -Name tiny-llama -WorkDir $TestDrive/again -Force
        $rebuilt.Reused | Should -BeFalse
        $rebuilt.Created | Should -BeGreaterThan $first.Created
    }

    It 'prepares what the training run then reads without tokenizing' {
        $dataset = Initialize-XTunerDataset -Name tiny-llama -WorkDir $TestDrive/train
        $run = Start-XTunerTraining -Name tiny-llama -MaxSteps 2 -WorkDir $TestDrive/train -PassThru
        "$($run.State)" | Should -Be 'Completed'
        [System.IO.File]::ReadAllText([System.IO.Path]::Combine($TestDrive, 'train', 'logs', 'rank0.log')) |
            Should -BeLike "*data: reusing dataset cache $($dataset.Path)*"
    }

    It 'puts the cache in dataset_cache_dir when -Option sets it' {
        $dataset = Initialize-XTunerDataset -Name tiny-llama -WorkDir $TestDrive/shared-run -Option @{ dataset_cache_dir = "$TestDrive/shared" }
        [System.IO.Path]::GetDirectoryName($dataset.Path) | Should -Be ([System.IO.Path]::GetFullPath("$TestDrive/shared"))
    }

    It 'stops at a bad line with XTunerBadDataLine, naming the file and line' {
        $data = [System.IO.Path]::Combine($TestDrive, 'bad.jsonl')
        [System.IO.File]::WriteAllLines($data, [string[]] @('{"instruction": "a", "output": "b"}', '{"instruction": "a"}'))
        { Initialize-XTunerDataset -Name tiny-llama -WorkDir $TestDrive/bad -Option @{ data_files = @($data) } } |
            Should -Throw -ErrorId 'XTunerBadDataLine,*' -ExpectedMessage "*bad.jsonl:2: missing `"output`"*"
    }

    It 'refuses a config whose cache is turned off: XTunerInvalidConfig' {
        { Initialize-XTunerDataset -Name tiny-llama -WorkDir $TestDrive/off -Option @{ dataset_cache_dir = 'none' } } |
            Should -Throw -ErrorId 'XTunerInvalidConfig,*' -ExpectedMessage '*dataset_cache_dir is none*'
    }

    It 'only warns for synthetic data, which has nothing to prepare' {
        $result = Initialize-XTunerDataset -Name tiny-llama -WorkDir $TestDrive/synthetic -Option @{ dataset_format = 'synthetic' } -WarningVariable warnings -WarningAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        "$warnings" | Should -BeLike '*synthetic*nothing to prepare*'
    }

    It '-WhatIf prepares nothing' {
        Initialize-XTunerDataset -Name tiny-llama -WorkDir $TestDrive/whatif -WhatIf
        "$TestDrive/whatif" | Should -Not -Exist
    }
}
