# Discovery, as in Pester 5: the file and every Describe/Context body run once to collect blocks, setup and Its;
# It, BeforeAll and friends only register their scriptblocks, which the run phase (Run.ps1) invokes later.

# The block whose body is running during discovery; $null outside discovery.
$script:CurrentBlock = $null

function New-Block([string] $Name, $Parent, [bool] $Skip = $false) {
    # Describe and Context names from the outermost; empty for the file's own block.
    [string[]] $path = @()
    if ($null -ne $Parent) { $path = @($Parent.Path) + $Name }
    [pscustomobject]@{
        Name       = $Name
        Path       = $path
        Parent     = $Parent
        BeforeAll  = [System.Collections.Generic.List[scriptblock]]::new()
        AfterAll   = [System.Collections.Generic.List[scriptblock]]::new()
        BeforeEach = [System.Collections.Generic.List[scriptblock]]::new()
        AfterEach  = [System.Collections.Generic.List[scriptblock]]::new()
        # Blocks and tests in the order the file declares them; the run phase keeps that order.
        Items      = [System.Collections.Generic.List[object]]::new()
        IsBlock    = $true
        # -Skip on a Describe or Context skips every It below it, as in Pester.
        Skip       = $Skip -or ($null -ne $Parent -and $Parent.Skip)
    }
}

function Assert-Discovery([string] $Keyword) {
    if ($null -eq $script:CurrentBlock) {
        throw "$Keyword registers tests and setup while a test file is discovered: call it in a test file's body or a Describe/Context body, not inside It, BeforeAll or other setup, and run the file with Invoke-Pester (or this runner's Invoke-PesterCompat)."
    }
}

function Add-Block([string] $Name, [scriptblock] $Fixture, [bool] $Skip) {
    Assert-Discovery 'Describe'
    $parent = $script:CurrentBlock
    $block = New-Block -Name $Name -Parent $parent -Skip $Skip
    $parent.Items.Add($block)
    $script:CurrentBlock = $block
    try {
        # A new scope of the caller's session state: variables of outer bodies stay visible, as in Pester.
        $null = & $Fixture
    }
    finally {
        $script:CurrentBlock = $parent
    }
}

function Describe {
    param(
        [Parameter(Mandatory, Position = 0)] [string] $Name,
        [Parameter(Mandatory, Position = 1)] [scriptblock] $Fixture,
        [switch] $Skip
    )
    Add-Block -Name $Name -Fixture $Fixture -Skip $Skip.IsPresent
}

function Context {
    param(
        [Parameter(Mandatory, Position = 0)] [string] $Name,
        [Parameter(Mandatory, Position = 1)] [scriptblock] $Fixture,
        [switch] $Skip
    )
    Add-Block -Name $Name -Fixture $Fixture -Skip $Skip.IsPresent
}

function It {
    param(
        [Parameter(Mandatory, Position = 0)] [string] $Name,
        [Parameter(Mandatory, Position = 1)] [scriptblock] $Test,
        [Alias('ForEach')] [object[]] $TestCases,
        [switch] $Skip
    )
    Assert-Discovery 'It'
    $block = $script:CurrentBlock
    # Without -TestCases the It is one test without data.
    $cases = @($null)
    if ($PSBoundParameters.ContainsKey('TestCases')) { $cases = $TestCases }
    foreach ($case in $cases) {
        $block.Items.Add([pscustomobject]@{
            Name        = Expand-TestName -Name $Name -Data $case
            Block       = $block
            ScriptBlock = $Test
            Data        = $case
            HasData     = $PSBoundParameters.ContainsKey('TestCases')
            IsBlock     = $false
            Skip        = $Skip.IsPresent -or $block.Skip
        })
    }
}

# <key> in a test name is replaced by that key of the test case, <_> by the test case itself, <key.Prop> by a property.
function Expand-TestName([string] $Name, $Data) {
    if ($null -eq $Data) { return $Name }
    [regex]::Replace($Name, '<([^<>]+)>', {
            param($match)
            $parts = $match.Groups[1].Value.Split('.')
            $value = if ($parts[0] -eq '_') { $Data }
            elseif ($Data -is [System.Collections.IDictionary] -and $Data.Contains($parts[0])) { $Data[$parts[0]] }
            else { return $match.Value }
            for ($i = 1; $i -lt $parts.Count; $i++) { $value = $value.($parts[$i]) }
            "$value"
        })
}

function BeforeAll([Parameter(Mandatory, Position = 0)] [scriptblock] $Scriptblock) {
    Assert-Discovery 'BeforeAll'
    $script:CurrentBlock.BeforeAll.Add($Scriptblock)
}

function AfterAll([Parameter(Mandatory, Position = 0)] [scriptblock] $Scriptblock) {
    Assert-Discovery 'AfterAll'
    $script:CurrentBlock.AfterAll.Add($Scriptblock)
}

function BeforeEach([Parameter(Mandatory, Position = 0)] [scriptblock] $Scriptblock) {
    Assert-Discovery 'BeforeEach'
    $script:CurrentBlock.BeforeEach.Add($Scriptblock)
}

function AfterEach([Parameter(Mandatory, Position = 0)] [scriptblock] $Scriptblock) {
    Assert-Discovery 'AfterEach'
    $script:CurrentBlock.AfterEach.Add($Scriptblock)
}

# Runs at once, in the caller's scope, so that its variables can feed -TestCases during discovery.
function BeforeDiscovery([Parameter(Mandatory, Position = 0)] [scriptblock] $Scriptblock) {
    Assert-Discovery 'BeforeDiscovery'
    . $Scriptblock
}
