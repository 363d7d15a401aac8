<#
.SYNOPSIS
    Builds, tests and publishes the XTuner PowerShell module.
.DESCRIPTION
    ./build.ps1            builds the solution; Import-Module ./XTuner.psd1 then works from the repository.
    ./build.ps1 -Test      also runs `dotnet test` and, when Pester 5 is installed, Invoke-Pester ./tests.
    ./build.ps1 -Publish   lays out a self-contained module folder (cmdlets + the xtuner worker with its
                           libtorch) under -OutputPath, to copy to another machine or a PSModulePath folder.
.EXAMPLE
    ./build.ps1 -Publish -OutputPath ~/modules; Import-Module ~/modules/XTuner
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
    [string] $OutputPath = (Join-Path $PSScriptRoot 'publish'),

    # Include the .NET runtime with the worker, for machines without .NET 10.
    [switch] $SelfContained
)

$ErrorActionPreference = 'Stop'

function Invoke-Dotnet {
    & dotnet @args
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($args -join ' ') failed with exit code $LASTEXITCODE" }
}

Push-Location $PSScriptRoot
try {
    Invoke-Dotnet build XTuner.sln -c $Configuration

    if ($Test) {
        Invoke-Dotnet test XTuner.sln -c $Configuration --no-build
        $pester = Get-Module -ListAvailable -Name Pester | Where-Object { $_.Version.Major -ge 5 } | Select-Object -First 1
        if ($pester) {
            Import-Module $pester
            $result = Invoke-Pester -Path (Join-Path $PSScriptRoot 'tests') -PassThru
            if ($result.FailedCount -gt 0) { throw "$($result.FailedCount) Pester test(s) failed" }
        }
        else {
            Write-Verbose 'Pester 5 is not installed: the .Tests.ps1 files ran inside dotnet test only.'
        }
    }

    if ($Publish) {
        $module = Join-Path $OutputPath 'XTuner'
        if (Test-Path $module) { Remove-Item $module -Recurse -Force }
        $bin = Join-Path $module 'bin'
        Invoke-Dotnet publish src/XTuner.PowerShell/XTuner.PowerShell.csproj -c $Configuration -o $bin
        $workerArgs = @('publish', 'src/XTuner.Cli/XTuner.Cli.csproj', '-c', $Configuration, '-r', 'linux-x64',
            "--self-contained:$($SelfContained.IsPresent.ToString().ToLowerInvariant())", '-o', (Join-Path $bin 'xtuner'))
        Invoke-Dotnet @workerArgs
        Copy-Item -Path (Join-Path $PSScriptRoot 'en-US') -Destination $module -Recurse
        Copy-Item -Path (Join-Path $PSScriptRoot 'module') -Destination $module -Recurse
        Copy-Item -Path (Join-Path $PSScriptRoot 'XTuner.psd1') -Destination $module
        Get-ChildItem $bin -Filter '*.pdb' -Recurse | Remove-Item
        Write-Output (Get-Item $module)
    }
}
finally {
    Pop-Location
}
