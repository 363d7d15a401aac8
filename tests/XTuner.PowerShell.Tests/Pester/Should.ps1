# Should, with Pester 5's operators, comparison rules and failure messages (only the operators listed here).
# As in Pester, the collection operators test all pipeline input at once and the others test each item; a failure
# throws an ErrorRecord with id PesterAssertionFailed that carries the assertion's file and line.

$script:Operators = @(
    'Be', 'BeExactly', 'BeNullOrEmpty', 'BeTrue', 'BeFalse', 'BeOfType', 'BeGreaterThan', 'BeLessThan',
    'BeGreaterOrEqual', 'BeLessOrEqual', 'Match', 'MatchExactly', 'BeLike', 'BeLikeExactly', 'Contain', 'BeIn',
    'HaveCount', 'Exist', 'Throw')
$script:CollectionOperators = @('Be', 'BeExactly', 'BeNullOrEmpty', 'Contain', 'HaveCount')

function Should {
    [CmdletBinding()]
    param(
        [Parameter(ValueFromPipeline)] [AllowNull()] [object] $ActualValue,
        [Parameter(Position = 0)] [Alias('RegularExpression', 'ExpectedType')] [AllowNull()] [object] $ExpectedValue,
        [switch] $Not,
        [switch] $Be, [switch] $BeExactly, [switch] $BeNullOrEmpty, [switch] $BeTrue, [switch] $BeFalse, [switch] $BeOfType,
        [switch] $BeGreaterThan, [switch] $BeLessThan, [switch] $BeGreaterOrEqual, [switch] $BeLessOrEqual,
        [switch] $Match, [switch] $MatchExactly, [switch] $BeLike, [switch] $BeLikeExactly,
        [switch] $Contain, [switch] $BeIn, [switch] $HaveCount, [switch] $Exist, [switch] $Throw,
        [string] $ExpectedMessage, [string] $ErrorId, [type] $ExceptionType, [switch] $PassThru,
        [string] $Because
    )
    begin {
        $inputs = [System.Collections.Generic.List[object]]::new()
    }
    process {
        $inputs.Add($ActualValue)
    }
    end {
        $operator = @(foreach ($name in $script:Operators) { if ($PSBoundParameters.ContainsKey($name)) { $name } })
        if ($operator.Count -ne 1) {
            throw [System.ArgumentException]::new("Should takes exactly one operator, one of -$($script:Operators -join ', -').")
        }
        $assertion = @{
            Operator = $operator[0]
            Expected = $ExpectedValue
            Negate   = $Not.IsPresent
            Because  = if ($Because) { " because $($Because.Trim() -replace '^because\s+'),"} else { '' }
            Options  = @{ ExpectedMessage = $ExpectedMessage; ErrorId = $ErrorId; ExceptionType = $ExceptionType; PassThru = $PassThru.IsPresent }
            Caller   = @{ File = $MyInvocation.ScriptName; Line = $MyInvocation.ScriptLineNumber; LineText = $MyInvocation.Line }
            State    = $PSCmdlet.SessionState
        }
        if ($inputs.Count -eq 0) { Assert-Should $assertion $null }
        elseif ($assertion.Operator -in $script:CollectionOperators) { Assert-Should $assertion $inputs.ToArray() }
        else { foreach ($item in $inputs) { Assert-Should $assertion $item } }
    }
}

function Assert-Should([hashtable] $Assertion, $Actual) {
    $failure = switch ($Assertion.Operator) {
        'Throw' { Test-Throw $Assertion $Actual; break }
        'Exist' { Test-Exist $Assertion $Actual; break }
        default { Test-Value $Assertion $Actual }
    }
    if ($failure -is [string]) {
        $caller = $Assertion.Caller
        $record = [System.Management.Automation.ErrorRecord]::new([System.Exception]::new($failure), 'PesterAssertionFailed',
            [System.Management.Automation.ErrorCategory]::InvalidResult,
            @{ Message = $failure; File = $caller.File; Line = $caller.Line; LineText = $caller.LineText })
        throw $record
    }
    # Should -Throw -PassThru returns the error it caught.
    $failure
}

# Returns the failure message, or nothing when the assertion holds.
function Test-Value([hashtable] $Assertion, $Actual) {
    $expected = $Assertion.Expected
    $b = $Assertion.Because
    $a = Format-Value $Actual
    $e = Format-Value $expected
    $ok, $positive, $negative = switch ($Assertion.Operator) {
        'Be' {
            (Test-Equal $Actual $expected), (Get-BeMessage $Actual $expected $b), "Expected $e to be different from the actual value,$b but got the same value."
        }
        'BeExactly' {
            (Test-Equal $Actual $expected -CaseSensitive), "Expected exactly $e,$b but got $a.", "Expected $e to be different from the actual value,$b but got exactly the same value."
        }
        'BeNullOrEmpty' {
            (Test-NullOrEmpty $Actual), "Expected `$null or empty,$b but got $a.", "Expected a value,$b but got `$null or empty."
        }
        'BeTrue' { [bool] $Actual, "Expected `$true,$b but got $a.", "Expected `$false,$b but got $a." }
        'BeFalse' { (-not $Actual), "Expected `$false,$b but got $a.", "Expected `$true,$b but got $a." }
        'BeOfType' {
            $type = Resolve-ExpectedType $expected
            $actualType = if ($null -eq $Actual) { '$null' } else { "[$($Actual.GetType().FullName)]" }
            [bool]($Actual -is $type), "Expected the value to have type [$($type.FullName)] or any of its subtypes,$b but got $a with type $actualType.",
            "Expected the value to not have type [$($type.FullName)] or any of its subtypes,$b but got $a with type $actualType."
        }
        'BeGreaterThan' { [bool]($Actual -gt $expected), "Expected the actual value to be greater than $e,$b but got $a.", "Expected the actual value to be less than or equal to $e,$b but got $a." }
        'BeLessThan' { [bool]($Actual -lt $expected), "Expected the actual value to be less than $e,$b but got $a.", "Expected the actual value to be greater than or equal to $e,$b but got $a." }
        'BeGreaterOrEqual' { [bool]($Actual -ge $expected), "Expected the actual value to be greater than or equal to $e,$b but got $a.", "Expected the actual value to be less than $e,$b but got $a." }
        'BeLessOrEqual' { [bool]($Actual -le $expected), "Expected the actual value to be less than or equal to $e,$b but got $a.", "Expected the actual value to be greater than $e,$b but got $a." }
        'Match' { [bool]($Actual -match $expected), "Expected regular expression $e to match $a,$b but it did not match.", "Expected regular expression $e to not match $a,$b but it did match." }
        'MatchExactly' { [bool]($Actual -cmatch $expected), "Expected regular expression $e to case sensitively match $a,$b but it did not match.", "Expected regular expression $e to not case sensitively match $a,$b but it did match." }
        'BeLike' { [bool]($Actual -like $expected), "Expected like wildcard $e to match $a,$b but it did not match.", "Expected like wildcard $e to not match $a,$b but it did match." }
        'BeLikeExactly' { [bool]($Actual -clike $expected), "Expected case sensitive like wildcard $e to match $a,$b but it did not match.", "Expected case sensitive like wildcard $e to not match $a,$b but it did match." }
        'Contain' { [bool](@($Actual) -contains $expected), "Expected $e to be found in collection $a,$b but it was not found.", "Expected $e to not be found in collection $a,$b but it was found." }
        'BeIn' { [bool](@($expected) -contains $Actual), "Expected collection $e to contain $a,$b but it was not found.", "Expected collection $e to not contain $a,$b but it was found." }
        'HaveCount' {
            $count = if ($null -eq $Actual) { 0 } else { @($Actual).Count }
            ($count -eq $expected), "Expected a collection with size $e,$b but got collection with size $count $a.",
            "Expected a collection with size different from $e,$b but got collection with that size $a."
        }
    }
    if ([bool] $ok -eq $Assertion.Negate) {
        if ($Assertion.Negate) { $negative } else { $positive }
    }
}

function Test-Exist([hashtable] $Assertion, $Actual) {
    $path = "$Actual"
    $exists = $false
    if ($path) {
        try {
            $full = $Assertion.State.Path.GetUnresolvedProviderPathFromPSPath($path)
            $exists = [System.IO.File]::Exists($full) -or [System.IO.Directory]::Exists($full)
        }
        catch [System.Management.Automation.DriveNotFoundException] {
            # A path on a drive that does not exist does not exist either.
        }
    }
    if ($exists -eq $Assertion.Negate) {
        if ($Assertion.Negate) { "Expected path '$path' to not exist,$($Assertion.Because) but it did exist." }
        else { "Expected path '$path' to exist,$($Assertion.Because) but it did not exist." }
    }
}

# Like Pester 5: -ExpectedMessage and -ErrorId are -like patterns (case-insensitive) on the exception message and the
# FullyQualifiedErrorId ('XTunerConfigNotFound,*' matches the id a cmdlet writes); -ExceptionType accepts subtypes.
function Test-Throw([hashtable] $Assertion, $Actual) {
    if ($Actual -isnot [scriptblock]) {
        throw [System.ArgumentException]::new("Input is missing or not a ScriptBlock. Input to '-Throw' and '-Not -Throw' must be enclosed in curly braces.")
    }
    $thrown = $null
    try { $null = & $Actual }
    catch { $thrown = $_ }
    $b = $Assertion.Because
    if ($Assertion.Negate) {
        if ($null -ne $thrown) { "Expected no exception to be thrown,$b but an exception `"$($thrown.Exception.Message)`" was thrown $(Get-ThrowLocation $thrown)." }
        return
    }
    $options = $Assertion.Options
    $message = if ($options.ExpectedMessage) { $options.ExpectedMessage } elseif ($null -ne $Assertion.Expected) { "$($Assertion.Expected)" } else { '' }
    $filters = [System.Collections.Generic.List[string]]::new()
    $buts = [System.Collections.Generic.List[string]]::new()
    if ($options.ExceptionType) {
        $filters.Add("type $(Format-Value $options.ExceptionType)")
        if ($null -ne $thrown -and $thrown.Exception -isnot $options.ExceptionType) { $buts.Add("the exception type was $(Format-Value $thrown.Exception.GetType())") }
    }
    if ($message) {
        $filters.Add("message like $(Format-Value ([System.Management.Automation.WildcardPattern]::Unescape($message)))")
        if ($null -ne $thrown -and $thrown.Exception.Message -notlike $message) { $buts.Add("the message was $(Format-Value $thrown.Exception.Message)") }
    }
    if ($options.ErrorId) {
        $filters.Add("FullyQualifiedErrorId $(Format-Value $options.ErrorId)")
        if ($null -ne $thrown -and $thrown.FullyQualifiedErrorId -notlike $options.ErrorId) { $buts.Add("the FullyQualifiedErrorId was $(Format-Value $thrown.FullyQualifiedErrorId)") }
    }
    if ($null -eq $thrown) { $buts.Add('no exception was thrown') }
    if ($buts.Count -gt 0) {
        $with = if ($filters.Count -gt 0) { " with $(Join-And $filters)" } else { '' }
        return "Expected an exception$with to be thrown,$b but $(Join-And $buts). $(Get-ThrowLocation $thrown)".Trim()
    }
    if ($options.PassThru) { $thrown }
}

function Get-ThrowLocation($Record) {
    if ($null -eq $Record -or $null -eq $Record.InvocationInfo) { return '' }
    "from $($Record.InvocationInfo.ScriptName):$($Record.InvocationInfo.ScriptLineNumber)"
}

function Join-And([string[]] $Items) {
    if ($Items.Count -lt 2) { return $Items -join ', ' }
    ($Items[0..($Items.Count - 2)] -join ', ') + ' and ' + $Items[-1]
}

# Pester's equality: $null, @() and @($null) are equal; arrays compare item by item (nested arrays too), -eq with the
# expected value on the left, so '1' | Should -Be 1 holds.
function Test-Equal($Actual, $Expected, [switch] $CaseSensitive) {
    $a = @($Actual)
    $e = @($Expected)
    $actualEmpty = $a.Count -eq 0 -or ($a.Count -eq 1 -and $null -eq $a[0])
    $expectedEmpty = $e.Count -eq 0 -or ($e.Count -eq 1 -and $null -eq $e[0])
    if ($actualEmpty -or $expectedEmpty) { return $actualEmpty -and $expectedEmpty }
    if ($a.Count -ne $e.Count) { return $false }
    for ($i = 0; $i -lt $a.Count; $i++) {
        if ($a[$i] -is [array] -or $e[$i] -is [array]) {
            if (-not (Test-Equal $a[$i] $e[$i] -CaseSensitive:$CaseSensitive)) { return $false }
        }
        elseif ($CaseSensitive) {
            if (-not ($e[$i] -ceq $a[$i])) { return $false }
        }
        elseif (-not ($e[$i] -eq $a[$i])) { return $false }
    }
    $true
}

function Test-NullOrEmpty($Actual) {
    $a = @($Actual)
    if ($a.Count -eq 0) { return $true }
    if ($a.Count -gt 1) { return $false }
    if ($a[0] -is [System.Collections.IDictionary]) { return $a[0].Count -eq 0 }
    [string]::IsNullOrEmpty($a[0])
}

# Two strings get Pester's detail: lengths and the first index where they differ.
function Get-BeMessage($Actual, $Expected, [string] $Because) {
    $a = @($Actual)
    $e = @($Expected)
    if ($a.Count -eq 1 -and $e.Count -eq 1 -and $a[0] -is [string] -and $e[0] -is [string]) {
        $actualText = $a[0]
        $expectedText = $e[0]
        $index = 0
        while ($index -lt $actualText.Length -and $index -lt $expectedText.Length -and $actualText[$index] -eq $expectedText[$index]) { $index++ }
        $lengths = if ($actualText.Length -ne $expectedText.Length) { "Expected length: $($expectedText.Length)`nActual length:   $($actualText.Length)" } else { "String lengths are both $($expectedText.Length)." }
        return "Expected strings to be the same,$Because but they were different.`n$lengths`nStrings differ at index $index.`nExpected: '$expectedText'`nBut was:  '$actualText'"
    }
    "Expected $(Format-Value $Expected),$Because but got $(Format-Value $Actual)."
}

function Resolve-ExpectedType($Expected) {
    if ($Expected -is [type]) { return $Expected }
    $type = ("$Expected" -replace '^\[(.*)\]$', '$1') -as [type]
    if ($null -eq $type) { throw [System.ArgumentException]::new("Could not find type [$Expected]. Make sure that the assembly that contains that type is loaded.") }
    $type
}

# Values as Pester prints them: 'text', $null, $true, 1.5, [type], @(1, 2), @{a=1}.
function Format-Value($Value) {
    if ($null -eq $Value) { return '$null' }
    if ($Value -is [bool]) { return '$' + "$Value".ToLowerInvariant() }
    if ($Value -is [string]) { return "'$Value'" }
    if ($Value -is [type]) { return "[$($Value.FullName)]" }
    if ($Value -is [scriptblock]) { return "{$Value}" }
    if ($Value -is [System.Collections.IDictionary]) {
        return '@{' + (@(foreach ($key in $Value.Keys) { "$key=$(Format-Value $Value[$key])" }) -join '; ') + '}'
    }
    if ($Value -is [System.Collections.IEnumerable]) {
        $items = @($Value)
        if ($items.Count -eq 1) { return Format-Value $items[0] }
        $shown = @(for ($i = 0; $i -lt [math]::Min($items.Count, 10); $i++) { Format-Value $items[$i] })
        return '@(' + ($shown -join ', ') + $(if ($items.Count -gt 10) { ', ...' }) + ')'
    }
    # Through the interface: types such as [version] implement IFormattable explicitly.
    if ($Value -is [System.IFormattable]) { return ([System.IFormattable]$Value).ToString($null, [cultureinfo]::InvariantCulture) }
    "$Value"
}
