<#
    A Pester 5 compatible runner for hosts without Pester (the xunit project hosts System.Management.Automation,
    which has no Pester and no Microsoft.PowerShell.Utility). It runs tests/*.Tests.ps1 unchanged; where Pester is
    installed, Invoke-Pester runs the same files. Test infrastructure, not part of the XTuner module.

    Like Pester, the runner is a module: its keywords run in the module's session state, so the test file's
    scriptblocks are dot-sourced into the caller's scopes, not into scopes of the runner's own functions.
#>

Set-StrictMode -Version 3.0

. $PSScriptRoot/Discovery.ps1
. $PSScriptRoot/Run.ps1
. $PSScriptRoot/Should.ps1

Export-ModuleMember -Function Describe, Context, It, BeforeAll, AfterAll, BeforeEach, AfterEach, BeforeDiscovery, Should, Invoke-PesterCompat
