# The module as a user imports it: the root manifest, its version, what it exports and the files it loads.

BeforeAll {
    $manifestPath = [System.IO.Path]::GetFullPath("$PSScriptRoot/../XTuner.psd1")
    $module = Import-Module $manifestPath -Force -PassThru
    $assembly = [System.IO.Path]::Combine($module.ModuleBase, 'bin', 'XTuner.PowerShell.dll')
}

Describe 'XTuner.psd1' {
    It 'passes Test-ModuleManifest' {
        $manifest = Test-ModuleManifest -Path $manifestPath -ErrorAction Stop
        $manifest.Name | Should -Be 'XTuner'
    }

    It 'imports as a binary module from bin/' {
        "$($module.ModuleType)" | Should -Be 'Binary'
        $assembly | Should -Exist
    }

    It 'has the version of Directory.Build.props' {
        $props = [xml][System.IO.File]::ReadAllText("$PSScriptRoot/../Directory.Build.props")
        # ModuleVersion is numeric: a prerelease suffix (-beta1) is not part of it.
        $version = $props.SelectSingleNode('/Project/PropertyGroup/Version').InnerText -replace '-.*$'
        "$($module.Version)" | Should -Be $version
    }

    It 'has the version of the cmdlet assembly it loads' {
        $built = [System.Reflection.AssemblyName]::GetAssemblyName($assembly).Version
        $module.Version.Major | Should -Be $built.Major
        $module.Version.Minor | Should -Be $built.Minor
        $module.Version.Build | Should -Be $built.Build
    }

    It 'lists its cmdlets explicitly, without wildcards' {
        # What Import-PowerShellDataFile does: the manifest's hashtable, evaluated safely.
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($manifestPath, [ref] $null, [ref] $null)
        $data = $ast.Find({ param($node) $node -is [System.Management.Automation.Language.HashtableAst] }, $false).SafeGetValue()
        $data.CmdletsToExport | Should -Not -BeNullOrEmpty
        $data.CmdletsToExport | Should -Not -BeLike '*`**'
        $data.FunctionsToExport | Should -BeNullOrEmpty
        $data.AliasesToExport | Should -BeNullOrEmpty
        $data.VariablesToExport | Should -BeNullOrEmpty
    }

    It 'exports exactly the cmdlets the assembly defines' {
        $cmdletAssembly = (Get-Command Get-XTunerConfig).ImplementingType.Assembly
        $cmdletAssembly.Location | Should -Be $assembly
        $defined = @($cmdletAssembly.GetExportedTypes() |
                Where-Object { -not $_.IsAbstract -and $_.IsDefined([System.Management.Automation.CmdletAttribute], $false) } |
                ForEach-Object {
                    $attribute = $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
                    "$($attribute.VerbName)-$($attribute.NounName)"
                })
        [string[]] $exported = @($module.ExportedCmdlets.Keys)
        [array]::Sort($exported, [System.StringComparer]::Ordinal)
        [array]::Sort($defined, [System.StringComparer]::Ordinal)
        $exported | Should -Be $defined
    }

    It 'uses approved verbs only' {
        $approved = [System.Management.Automation.VerbsCommon].GetFields() + [System.Management.Automation.VerbsData].GetFields() +
            [System.Management.Automation.VerbsLifecycle].GetFields() + [System.Management.Automation.VerbsDiagnostic].GetFields() +
            [System.Management.Automation.VerbsCommunications].GetFields() + [System.Management.Automation.VerbsSecurity].GetFields() +
            [System.Management.Automation.VerbsOther].GetFields() | ForEach-Object { $_.GetValue($null) }
        foreach ($cmdlet in $module.ExportedCmdlets.Values) { $cmdlet.Verb | Should -BeIn $approved }
    }

    It 'loads its format and type files' {
        $module.ExportedFormatFiles | Should -HaveCount 1
        $module.ExportedFormatFiles[0] | Should -Exist
        $module.ExportedTypeFiles | Should -HaveCount 1
        $config = Get-XTunerConfig tiny-llama
        $config.GPUs | Should -Be $config.WorldSize
        $config.PSStandardMembers.DefaultDisplayPropertySet.ReferencedPropertyNames | Should -Contain 'SequenceParallelSize'
    }

    It 'has a table view for each object it outputs' {
        $views = ([xml][System.IO.File]::ReadAllText($module.ExportedFormatFiles[0])).Configuration.ViewDefinitions.View.ViewSelectedBy.TypeName
        $views | Should -Contain 'XTuner.Core.Configuration.XTunerConfig'
        $views | Should -Contain 'XTuner.Core.Configuration.ConfigFinding'
        $views | Should -Contain 'XTuner.Core.Slurm.XTunerJob'
        $views | Should -Contain 'XTuner.Core.Runs.XTunerRun'
        $views | Should -Contain 'XTuner.Core.Runs.XTunerStep'
    }
}
