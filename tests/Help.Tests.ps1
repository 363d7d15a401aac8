# Every exported cmdlet has full help (in the style of PSScriptAnalyzer's ModuleHelp.Tests.ps1): a synopsis of its
# own, a description, examples with code and remarks, and a description for every parameter.

BeforeDiscovery {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
    $commonParameters = [System.Management.Automation.PSCmdlet]::CommonParameters
    $cmdlets = @(Get-Command -Module XTuner -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
    $parameters = @(foreach ($command in Get-Command -Module XTuner -CommandType Cmdlet) {
            foreach ($parameter in $command.Parameters.Keys | Where-Object { $_ -notin $commonParameters }) {
                @{ Name = $command.Name; Parameter = $parameter }
            }
        })
}

BeforeAll {
    Import-Module "$PSScriptRoot/../XTuner.psd1" -Force
    $commonParameters = [System.Management.Automation.PSCmdlet]::CommonParameters
}

Describe 'cmdlet help' {
    It '<Name> has a synopsis of its own' -TestCases $cmdlets {
        $help = Get-Help $Name -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        # Without a help file, Get-Help makes the synopsis from the syntax.
        $help.Synopsis | Should -Not -BeLike "*$Name *[<CommonParameters>]*"
    }

    It '<Name> has a description' -TestCases $cmdlets {
        $help = Get-Help $Name -Full
        ($help.description.Text -join '') | Should -Not -BeNullOrEmpty
    }

    It '<Name> has examples, each with code and remarks' -TestCases $cmdlets {
        $examples = @((Get-Help $Name -Examples).examples.example)
        $examples.Count | Should -BeGreaterThan 0
        foreach ($example in $examples) {
            $example.code | Should -Not -BeNullOrEmpty
            ($example.remarks.Text -join '') | Should -Not -BeNullOrEmpty
        }
    }

    It '<Name> examples use the cmdlet' -TestCases $cmdlets {
        (Get-Help $Name -Examples).examples.example.code -join "`n" | Should -Match ([regex]::Escape($Name))
    }

    It '<Name> -<Parameter> is described' -TestCases $parameters {
        $help = Get-Help $Name -Parameter $Parameter
        ($help.description.Text -join '') | Should -Not -BeNullOrEmpty
    }

    It '<Name> help lists the parameters the cmdlet has, no more and no less' -TestCases $cmdlets {
        [string[]] $inCode = @((Get-Command $Name).Parameters.Keys | Where-Object { $_ -notin $commonParameters })
        [string[]] $inHelp = @((Get-Help $Name -Full).parameters.parameter.name)
        [array]::Sort($inCode, [System.StringComparer]::OrdinalIgnoreCase)
        [array]::Sort($inHelp, [System.StringComparer]::OrdinalIgnoreCase)
        $inHelp | Should -Be $inCode
    }

    It '<Name> help has one syntax per parameter set' -TestCases $cmdlets {
        @((Get-Help $Name -Full).syntax.syntaxItem).Count | Should -Be @((Get-Command $Name).ParameterSets).Count
    }

    It '<Name> help agrees with the code on mandatory parameters and pipeline input' -TestCases $cmdlets {
        foreach ($parameter in (Get-Command $Name).Parameters.Values | Where-Object { $_.Name -notin $commonParameters }) {
            $help = Get-Help $Name -Parameter $parameter.Name
            $attributes = @($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
            $mandatory = @($attributes | Where-Object { -not $_.Mandatory }).Count -eq 0
            $byValue = @($attributes | Where-Object { $_.ValueFromPipeline }).Count -gt 0
            $help.required | Should -Be "$mandatory" -Because "-$($parameter.Name) is mandatory in every parameter set or not"
            ($help.pipelineInput -like 'True*ByValue*') | Should -Be $byValue -Because "-$($parameter.Name) takes pipeline input by value or not"
        }
    }
}

Describe 'about_XTuner' {
    It 'is found by Get-Help once the module is imported' {
        $topic = Get-Help about_XTuner
        "$topic" | Should -BeLike '*about_XTuner*SHORT DESCRIPTION*Get-XTunerConfig*'
    }
}
