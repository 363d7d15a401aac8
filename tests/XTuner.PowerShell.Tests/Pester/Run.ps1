# The run phase, as in Pester 5. Each block runs in a new scope of the caller's session state, a child of its
# parent block's scope: its BeforeAll and AfterAll run there, and each It in a new child scope together with the
# BeforeEach (outermost block first) and AfterEach (innermost first) of its blocks. So variables set in BeforeAll are
# seen by the block's Its and nested blocks, and variables set in one It are not seen by the next.

# For the file being run: scriptblocks bound to the caller's session state, and the report.
$script:Run = $null

function Invoke-PesterCompat {
    <#
    .SYNOPSIS
    Discovers and runs one test file; returns its report: Tests (Name, Result, Message, Duration) and Errors
    (failures outside any It: discovery, AfterAll).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Path,
        [switch] $DiscoveryOnly
    )
    $caller = $PSCmdlet.SessionState
    $file = $caller.Path.GetUnresolvedProviderPathFromPSPath($Path)
    $report = [pscustomobject]@{
        Path   = $file
        Tests  = [System.Collections.Generic.List[object]]::new()
        Errors = [System.Collections.Generic.List[string]]::new()
    }
    $script:Run = @{
        Report = $report
        # Enters a new scope of the caller's session state, defines variables there, then calls back into the runner.
        Enter  = New-CallerScriptBlock $caller '{ param($__pcBody, $__pcArgument, $__pcVariables) if ($null -ne $__pcVariables) { foreach ($__pcName in $__pcVariables.Keys) { $ExecutionContext.SessionState.PSVariable.Set($__pcName, $__pcVariables[$__pcName]) } }; & $__pcBody $__pcArgument }'
        # The test file runs in a scope of the caller's session state, as Invoke-Pester runs it.
        File   = New-CallerScriptBlock $caller '{ param($__pcPath) . $__pcPath }'
    }

    $root = New-Block -Name '' -Parent $null
    $script:CurrentBlock = $root
    try {
        $null = & $script:Run.File $file
    }
    catch {
        $report.Errors.Add("Discovery of $file failed: $(Format-ErrorRecord $_)")
    }
    finally {
        $script:CurrentBlock = $null
    }

    if ($DiscoveryOnly -or $report.Errors.Count -gt 0) {
        # -Skip is decided at discovery, as in Pester: discovery already knows which Its will be skipped.
        foreach ($test in Get-Test $root) { Add-Result -Test $test -Result $(if ($test.Skip -and $report.Errors.Count -eq 0) { 'Skipped' } else { 'NotRun' }) }
        return $report
    }

    $testDrive = New-TestDrive $caller
    $location = $caller.Path.CurrentLocation
    try {
        Invoke-Block -Block $root -Variables @{ TestDrive = $testDrive }
    }
    finally {
        $null = $caller.Path.SetLocation($location.Path)
        Remove-TestDrive $caller $testDrive
        $script:Run = $null
    }
    $report
}

function New-CallerScriptBlock([System.Management.Automation.SessionState] $SessionState, [string] $Text) {
    # A scriptblock literal evaluated in a session state is bound to it: invoking it enters that state's scopes.
    $ExecutionContext.InvokeCommand.InvokeScript($SessionState, [scriptblock]::Create($Text), @())[0]
}

function Get-Test($Block) {
    foreach ($item in $Block.Items) {
        if ($item.IsBlock) { Get-Test $item } else { $item }
    }
}

function Invoke-Block($Block, [System.Collections.IDictionary] $Variables) {
    & $script:Run.Enter { param($b) Invoke-BlockBody $b } $Block $Variables
}

function Invoke-BlockBody($Block) {
    # A block whose Its are all skipped runs no setup either (Pester does the same): it may need what is missing.
    $tests = @(Get-Test $Block)
    if ($tests.Count -gt 0 -and @($tests | Where-Object { -not $_.Skip }).Count -eq 0) {
        foreach ($test in $tests) { Add-Result -Test $test -Result 'Skipped' }
        return
    }
    $failure = $null
    foreach ($setup in $Block.BeforeAll) {
        try { $null = . $setup }
        catch { $failure = $_; break }
    }
    foreach ($item in $Block.Items) {
        if ($null -ne $failure) {
            $message = "BeforeAll of '$(Get-BlockName $Block)' failed: $(Format-ErrorRecord $failure)"
            foreach ($test in @(if ($item.IsBlock) { Get-Test $item } else { $item })) { Add-Result -Test $test -Result 'Failed' -Message $message }
        }
        elseif ($item.IsBlock) { Invoke-Block -Block $item -Variables $null }
        else { Invoke-Test $item }
    }
    foreach ($teardown in $Block.AfterAll) {
        try { $null = . $teardown }
        catch { $script:Run.Report.Errors.Add("AfterAll of '$(Get-BlockName $Block)' failed: $(Format-ErrorRecord $_)") }
    }
}

function Invoke-Test($Test) {
    if ($Test.Skip) {
        Add-Result -Test $Test -Result 'Skipped'
        return
    }
    $variables = @{}
    if ($Test.HasData) {
        # Pester 5 defines each key of a test case as a variable, and $_ as the whole test case.
        $variables['_'] = $Test.Data
        if ($Test.Data -is [System.Collections.IDictionary]) {
            foreach ($key in $Test.Data.Keys) { $variables[$key] = $Test.Data[$key] }
        }
    }
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $failure = & $script:Run.Enter { param($t) Invoke-TestBody $t } $Test $variables
    if ($null -eq $failure) { Add-Result -Test $Test -Result 'Passed' -Duration $watch.Elapsed }
    else { Add-Result -Test $Test -Result 'Failed' -Message (Format-ErrorRecord $failure) -Duration $watch.Elapsed }
}

# Returns the first error (BeforeEach, It or AfterEach), or nothing.
function Invoke-TestBody($Test) {
    $blocks = [System.Collections.Generic.List[object]]::new()
    for ($b = $Test.Block; $null -ne $b; $b = $b.Parent) { $blocks.Insert(0, $b) }
    $failure = $null
    try {
        foreach ($b in $blocks) { foreach ($setup in $b.BeforeEach) { $null = . $setup } }
        $body = $Test.ScriptBlock
        $data = $Test.Data
        # A test case is also splatted, for It blocks that declare param() (Pester 4 style).
        if ($data -is [System.Collections.IDictionary]) { $null = . $body @data } else { $null = . $body }
    }
    catch { $failure = $_ }
    for ($i = $blocks.Count - 1; $i -ge 0; $i--) {
        foreach ($teardown in $blocks[$i].AfterEach) {
            try { $null = . $teardown }
            catch { if ($null -eq $failure) { $failure = $_ } }
        }
    }
    $failure
}

function Add-Result($Test, [string] $Result, [string] $Message = '', [timespan] $Duration = [timespan]::Zero) {
    $script:Run.Report.Tests.Add([pscustomobject]@{
        Name     = (@($Test.Block.Path) + $Test.Name) -join ' > '
        Result   = $Result
        Message  = $Message
        Duration = $Duration
    })
}

function Get-BlockName($Block) {
    if ($Block.Path.Count -eq 0) { 'the file' } else { $Block.Path -join ' > ' }
}

# A failed Should reads like Pester's (message, then the assertion line); other errors add their id and stack.
function Format-ErrorRecord([System.Management.Automation.ErrorRecord] $Record) {
    $target = $Record.TargetObject
    if ($Record.FullyQualifiedErrorId -eq 'PesterAssertionFailed' -and $target -is [System.Collections.IDictionary]) {
        return "$($target.Message)`nat $($target.LineText.Trim()), $($target.File):$($target.Line)"
    }
    # The stack down to the test's own code; the runner's frames below it say nothing about the failure.
    $stack = @($Record.ScriptStackTrace -split '\r?\n' | Where-Object { $_ -notlike "*$PSScriptRoot*" -and $_ -notlike '*<No file>*' })
    "$($Record.Exception.GetType().FullName): $($Record.Exception.Message)`nErrorId: $($Record.FullyQualifiedErrorId)`n$($stack -join "`n")"
}

# $TestDrive (and the TestDrive: drive): an empty folder for the file's tests, removed after them.
function New-TestDrive([System.Management.Automation.SessionState] $SessionState) {
    $root = [System.IO.Path]::Combine([System.IO.Path]::GetTempPath(), 'PesterCompat-' + [guid]::NewGuid().ToString('N'))
    $null = [System.IO.Directory]::CreateDirectory($root)
    $provider = $SessionState.Provider.GetOne('FileSystem')
    $drive = [System.Management.Automation.PSDriveInfo]::new('TestDrive', $provider, $root, 'Pester TestDrive', $null)
    $null = $SessionState.Drive.New($drive, 'Global')
    $root
}

function Remove-TestDrive([System.Management.Automation.SessionState] $SessionState, [string] $Root) {
    $SessionState.Drive.Remove('TestDrive', $true, 'Global')
    if ([System.IO.Directory]::Exists($Root)) { [System.IO.Directory]::Delete($Root, $true) }
}
