BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
}

Describe 'Set-SequenceParallel' {
    BeforeAll {
        # tiny-llama has 8 attention heads; on 8 ranks every size that divides 8 fits both heads and world.
        $eightRanks = Get-XTunerConfig tiny-llama | Set-XTunerConfig -GpusPerNode 8
    }

    It 'sets size <Size>, which divides the heads and the world size' -TestCases @(
        @{ Size = 1 }, @{ Size = 2 }, @{ Size = 4 }, @{ Size = 8 }
    ) {
        $config = $eightRanks | Set-SequenceParallel -Size $Size
        $config.SequenceParallelSize | Should -Be $Size
        $config.DataParallelSize | Should -Be (8 / $Size)
        $config.GpusPerNode | Should -Be 8
    }

    It 'takes the size as its first positional parameter and -SequenceParallelSize as an alias' {
        ($eightRanks | Set-SequenceParallel 4).SequenceParallelSize | Should -Be 4
        ($eightRanks | Set-SequenceParallel -SequenceParallelSize 2).SequenceParallelSize | Should -Be 2
    }

    It 'refuses a size that does not divide the heads: XTunerInvalidSequenceParallelSize naming the size and the heads' {
        $config = $eightRanks | Set-XTunerConfig -GpusPerNode 6 | Set-SequenceParallel -Size 3 -ErrorVariable errors -ErrorAction SilentlyContinue
        $config | Should -BeNullOrEmpty
        $errors | Should -HaveCount 1
        $errors[0].FullyQualifiedErrorId | Should -Be 'XTunerInvalidSequenceParallelSize,XTuner.PowerShell.Commands.SetSequenceParallelCommand'
        $errors[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $errors[0].Exception.Message | Should -BeLike "sequence_parallel_size 3 does not divide the model's 8 attention heads. Use one of 1, 2, 4, 8*"
    }

    It 'refuses a size that does not divide the world size, naming both' {
        $config = Get-XTunerConfig llama2-7b-full-32k-sp1 | Set-SequenceParallel -Size 16 -ErrorVariable errors -ErrorAction SilentlyContinue
        $config | Should -BeNullOrEmpty
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'XTunerInvalidSequenceParallelSize,*'
        $errors[0].Exception.Message | Should -BeLike '*sequence_parallel_size 16 does not divide the world size 8*'
    }

    It 'refuses size 0' {
        { $eightRanks | Set-SequenceParallel -Size 0 -ErrorAction Stop } | Should -Throw -ErrorId 'XTunerInvalidSequenceParallelSize,*' -ExpectedMessage '*must be 1 or more*'
    }

    It 'names the refused config as the error target' {
        $null = $eightRanks | Set-SequenceParallel -Size 3 -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors[0].TargetObject.Name | Should -Be 'tiny-llama'
    }

    It 'is non-terminating: the configs after a refused one still go through' {
        $sixteenRanks = Get-XTunerConfig llama2-7b-full-8k-sp1 | Set-XTunerConfig -Nodes 2
        $configs = $eightRanks, $sixteenRanks | Set-SequenceParallel -Size 16 -ErrorVariable errors -ErrorAction SilentlyContinue
        $configs.Name | Should -Be 'llama2-7b-full-8k-sp1'
        $errors | Should -HaveCount 1
    }

    It 'changes every config of a pipeline' {
        $configs = Get-XTunerConfig llama2-7b* | Set-SequenceParallel -Size 4
        $configs | Should -HaveCount @(Get-XTunerConfig llama2-7b*).Count
        $configs.SequenceParallelSize | Should -Be (@(4) * $configs.Count)
    }

    It 'leaves its input unchanged' {
        $before = [XTuner.Core.Configuration.ConfigYaml]::Serialize($eightRanks)
        $null = $eightRanks | Set-SequenceParallel -Size 8 -GpusPerNode 16 -HeadPadding
        [XTuner.Core.Configuration.ConfigYaml]::Serialize($eightRanks) | Should -Be $before
    }

    It 'pads heads with -HeadPadding, with a warning that gives the cost' {
        $config = $eightRanks | Set-XTunerConfig -GpusPerNode 3 | Set-SequenceParallel -Size 3 -HeadPadding -WarningVariable warnings -WarningAction SilentlyContinue
        $config.SequenceParallelSize | Should -Be 3
        $config.SequenceParallelHeadPadding | Should -BeTrue
        "$warnings" | Should -BeLike '*8 attention heads are padded to 9 for sequence_parallel_size 3 (12.5% more attention work)*'
    }

    It 'sets the ranks per node with -GpusPerNode' {
        $config = Get-XTunerConfig llama2-7b-full-32k-sp1 | Set-SequenceParallel -Size 16 -GpusPerNode 16
        $config.GpusPerNode | Should -Be 16
        $config.SequenceParallelSize | Should -Be 16
    }

    It 'gives a one-rank config -Size ranks on its node' {
        $config = Get-XTunerConfig tiny-llama | Set-SequenceParallel -Size 2
        $config.GpusPerNode | Should -Be 2
        $config.Nodes | Should -Be 1
        $config.SequenceParallelSize | Should -Be 2
        $config.DataParallelSize | Should -Be 1
    }

    It 'keeps a multi-rank layout: it does not add ranks to a world the size does not divide' {
        $null = Get-XTunerConfig tiny-llama | Set-XTunerConfig -GpusPerNode 2 | Set-SequenceParallel -Size 4 -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors[0].Exception.Message | Should -BeLike '*does not divide the world size 2*'
    }
}
