<#
.SYNOPSIS
    Builds, tests and publishes the XTuner PowerShell module.
.DESCRIPTION
    ./build.ps1            builds the solution; Import-Module ./XTuner.psd1 then works from the repository.
    ./build.ps1 -Test      also runs `dotnet test`: xunit, and the Pester suite under real Invoke-Pester -CI in the
                           pwsh and Pester that the test project restores (.config/dotnet-tools.json, NuGet).
    ./build.ps1 -Publish   lays out a self-contained module folder (cmdlets + the xtuner worker with its libtorch)
                           at <OutputPath>/XTuner, to copy to another machine or into a PSModulePath folder.
    Uses only PowerShell's core cmdlets and .NET, so it also runs where the full cmdlet set is absent.
.EXAMPLE
    ./build.ps1 -Publish -OutputPath ~/.local/share/powershell/Modules; Import-Module XTuner
#>
[CmdletBinding()]
param(
    # Build configuration.
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Run the test suite after building.
    [switch] $Test,

    # Lay out the module folder <OutputPath>/XTuner.
    [switch] $Publish,

    # Where -Publish writes the module folder.
    [string] $OutputPath = [System.IO.Path]::Combine($PSScriptRoot, 'publish'),

    # Include the .NET runtime with the worker, for machines without .NET 10.
    [switch] $SelfContained
)

$ErrorActionPreference = 'Stop'
$root = $PSScriptRoot

function Invoke-Dotnet {
    & dotnet @args
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($args -join ' ') failed with exit code $LASTEXITCODE" }
}

function Copy-Folder([string] $From, [string] $To) {
    [System.IO.Directory]::CreateDirectory($To) | Out-Null
    foreach ($file in [System.IO.Directory]::GetFiles($From)) {
        [System.IO.File]::Copy($file, [System.IO.Path]::Combine($To, [System.IO.Path]::GetFileName($file)), $true)
    }
    foreach ($dir in [System.IO.Directory]::GetDirectories($From)) {
        Copy-Folder $dir ([System.IO.Path]::Combine($To, [System.IO.Path]::GetFileName($dir)))
    }
}

Invoke-Dotnet build ([System.IO.Path]::Combine($root, 'XTuner.sln')) -c $Configuration

if ($Test) {
    # The test projects restore pwsh and Pester themselves and run tests/*.Tests.ps1 under Invoke-Pester -CI.
    Invoke-Dotnet test ([System.IO.Path]::Combine($root, 'XTuner.sln')) -c $Configuration --no-build
}

if ($Publish) {
    $module = [System.IO.Path]::Combine([System.IO.Path]::GetFullPath($OutputPath), 'XTuner')
    if ([System.IO.Directory]::Exists($module)) { [System.IO.Directory]::Delete($module, $true) }
    $bin = [System.IO.Path]::Combine($module, 'bin')
    Invoke-Dotnet publish ([System.IO.Path]::Combine($root, 'src/XTuner.PowerShell/XTuner.PowerShell.csproj')) -c $Configuration -o $bin
    Invoke-Dotnet publish ([System.IO.Path]::Combine($root, 'src/XTuner.Cli/XTuner.Cli.csproj')) -c $Configuration -r linux-x64 `
        "--self-contained:$($SelfContained.IsPresent.ToString().ToLowerInvariant())" -o ([System.IO.Path]::Combine($bin, 'xtuner'))
    Copy-Folder ([System.IO.Path]::Combine($root, 'en-US')) ([System.IO.Path]::Combine($module, 'en-US'))
    Copy-Folder ([System.IO.Path]::Combine($root, 'module')) ([System.IO.Path]::Combine($module, 'module'))
    [System.IO.File]::Copy([System.IO.Path]::Combine($root, 'XTuner.psd1'), [System.IO.Path]::Combine($module, 'XTuner.psd1'), $true)
    foreach ($pdb in [System.IO.Directory]::GetFiles($module, '*.pdb', [System.IO.SearchOption]::AllDirectories)) { [System.IO.File]::Delete($pdb) }
    [System.IO.DirectoryInfo]::new($module)
}
