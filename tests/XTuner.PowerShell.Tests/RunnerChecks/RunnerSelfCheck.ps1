# Checks of the Pester-compatible runner itself; RunnerSelfTests.cs runs this file and checks every result.
# An It whose name starts with 'fails:' must fail, one that starts with 'skipped:' must be skipped; every other It must pass. Deliberately not named *.Tests.ps1,
# so that Invoke-Pester ./tests never runs these deliberate failures.

BeforeDiscovery {
    $discoveryCases = @(@{ Value = 1; Label = 'one' }, @{ Value = 2; Label = 'two' })
}

BeforeAll {
    $fileLevel = 'file'
    function Write-TestError {
        [CmdletBinding()]
        param()
        $PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new(
                [System.InvalidOperationException]::new('written by Write-TestError'), 'TestErrorId', 'InvalidOperation', 'the target'))
    }
}

# Runs during discovery only: the run phase must not see it.
$discoveryOnly = 'discovery'

Describe 'scoping' {
    BeforeAll {
        $describeLevel = 'describe'
        $counter = 0
    }

    BeforeEach {
        $each = 'each'
        $counter++
    }

    $bodyLevel = 'body'

    It 'sees the file BeforeAll and the Describe BeforeAll' {
        $fileLevel | Should -Be 'file'
        $describeLevel | Should -Be 'describe'
    }

    It 'sees BeforeEach variables' {
        $each | Should -Be 'each'
    }

    It 'sets a variable' {
        $leak = 'leaked'
        $leak | Should -Be 'leaked'
    }

    It 'does not see a variable set by an earlier It' {
        $leak | Should -BeNullOrEmpty
    }

    It 'runs BeforeEach in a new scope for each It' {
        $counter | Should -Be 1
    }

    It 'does not see variables of discovery (file and Describe bodies)' {
        $discoveryOnly | Should -BeNullOrEmpty
        $bodyLevel | Should -BeNullOrEmpty
    }

    It 'has the test file in $PSScriptRoot and $PSCommandPath' {
        $PSCommandPath | Should -BeLike '*RunnerSelfCheck.ps1'
        $PSScriptRoot | Should -Be ([System.IO.Path]::GetDirectoryName($PSCommandPath))
    }

    Context 'nested' {
        BeforeAll {
            $contextLevel = "$describeLevel/context"
        }

        It 'sees the outer BeforeAll' {
            $contextLevel | Should -Be 'describe/context'
        }
    }

    It 'does not see variables of a nested block' {
        $contextLevel | Should -BeNullOrEmpty
    }
}

Describe 'test cases' {
    It 'expands <Label> to the case value <Value>' -TestCases $discoveryCases {
        $Value | Should -BeIn 1, 2
        $_.Label | Should -Be $Label
    }

    It 'also passes the case to param(): <Name>' -TestCases @{ Name = 'a' } {
        param($Name)
        $Name | Should -BeExactly 'a'
    }
}

Describe 'TestDrive' {
    It 'is an existing folder, also reachable as TestDrive:' {
        $TestDrive | Should -Exist
        [System.IO.File]::WriteAllText("$TestDrive/file.txt", 'content')
        'TestDrive:/file.txt' | Should -Exist
        [System.Environment]::SetEnvironmentVariable('PESTER_COMPAT_TESTDRIVE', $TestDrive)
    }

    It 'keeps files for the next It of the file' {
        "$TestDrive/file.txt" | Should -Exist
        "$TestDrive/missing.txt" | Should -Not -Exist
    }
}

Describe 'setup and teardown' {
    BeforeAll {
        $log = [System.Collections.Generic.List[string]]::new()
    }

    AfterEach {
        $log.Add('after')
    }

    It 'fails: an It that throws' {
        throw 'boom'
    }

    It 'ran AfterEach after the failed It' {
        $log | Should -Contain 'after'
    }
}

Describe 'a failing BeforeAll' {
    BeforeAll {
        throw 'setup broke'
    }

    It 'fails: the Its of its block' { }

    Context 'nested' {
        It 'fails: and of nested blocks' { }
    }
}

Describe 'a failing AfterAll' {
    AfterAll {
        throw 'teardown broke'
    }

    It 'still passes its Its' { }
}

Describe 'Should' {
    It 'Be compares like -eq, arrays item by item' {
        1 | Should -Be 1
        '1' | Should -Be 1
        'ABC' | Should -Be 'abc'
        @(1, 2) | Should -Be @(1, 2)
        $null | Should -Be $null
        1 | Should -Not -Be 2
        Should -ActualValue 3 -Be 3
    }

    It 'BeExactly, BeLike, BeLikeExactly, Match, MatchExactly' {
        'Abc' | Should -BeExactly 'Abc'
        'Abc' | Should -Not -BeExactly 'abc'
        'Abc' | Should -BeLike 'a*'
        'Abc' | Should -BeLikeExactly 'A*'
        'Abc' | Should -Match '^a'
        'Abc' | Should -MatchExactly '^A'
        'Abc' | Should -Not -MatchExactly '^a'
    }

    It 'BeNullOrEmpty, BeTrue, BeFalse' {
        $null | Should -BeNullOrEmpty
        @() | Should -BeNullOrEmpty
        '' | Should -BeNullOrEmpty
        'x' | Should -Not -BeNullOrEmpty
        $true | Should -BeTrue
        $false | Should -BeFalse
        1 | Should -BeTrue
    }

    It 'BeOfType takes a type or its name' {
        'x' | Should -BeOfType [string]
        'x' | Should -BeOfType ([string])
        1 | Should -BeOfType System.ValueType
        1 | Should -Not -BeOfType [string]
    }

    It 'comparisons' {
        2 | Should -BeGreaterThan 1
        1 | Should -BeLessThan 2
        2 | Should -BeGreaterOrEqual 2
        2 | Should -BeLessOrEqual 2
    }

    It 'Contain and HaveCount take the whole pipeline, BeIn each item' {
        1, 2, 3 | Should -Contain 2
        1, 2, 3 | Should -Not -Contain 4
        1, 2, 3 | Should -HaveCount 3
        @() | Should -HaveCount 0
        1, 2 | Should -BeIn 1, 2, 3
    }

    It 'Throw matches -ErrorId and -ExpectedMessage as -like patterns' {
        { Write-TestError -ErrorAction Stop } | Should -Throw -ErrorId 'TestErrorId,*'
        { Write-TestError -ErrorAction Stop } | Should -Throw -ErrorId 'TestErrorId,Write-TestError'
        { Write-TestError -ErrorAction Stop } | Should -Throw -ExpectedMessage '*by Write-TestError'
        { Write-TestError -ErrorAction Stop } | Should -Throw '*by Write-TestError' -ExceptionType ([System.InvalidOperationException])
        { throw [System.ArgumentNullException]::new('p') } | Should -Throw -ExceptionType ([System.ArgumentException])
        { } | Should -Not -Throw
    }

    It 'Throw -PassThru returns the error' {
        $err = { Write-TestError -ErrorAction Stop } | Should -Throw -PassThru
        $err.TargetObject | Should -Be 'the target'
        $err.CategoryInfo.Category | Should -Be 'InvalidOperation'
    }

    It 'fails: Be with a different value' { 1 | Should -Be 2 }
    It 'fails: Be with -Because' { 1 | Should -Be 2 -Because 'reasons' }
    It 'fails: Be with different strings' { 'abcd' | Should -Be 'abXd' }
    It 'fails: Not Be with the same value' { 1 | Should -Not -Be 1 }
    It 'fails: BeExactly with another case' { 'a' | Should -BeExactly 'A' }
    It 'fails: BeNullOrEmpty with a value' { 'x' | Should -BeNullOrEmpty }
    It 'fails: BeTrue with false' { $false | Should -BeTrue }
    It 'fails: BeOfType with another type' { 1 | Should -BeOfType [string] }
    It 'fails: BeGreaterThan with a smaller value' { 1 | Should -BeGreaterThan 2 }
    It 'fails: Match without a match' { 'abc' | Should -Match 'x' }
    It 'fails: Contain without the item' { 1, 2 | Should -Contain 3 }
    It 'fails: HaveCount with another count' { 1, 2 | Should -HaveCount 3 }
    It 'fails: Exist with a missing path' { "$TestDrive/nothing-here" | Should -Exist }
    It 'fails: BeIn without the item' { 4 | Should -BeIn 1, 2 }
    It 'fails: Throw without an exception' { { } | Should -Throw }
    It 'fails: Throw -ErrorId with another id' { { Write-TestError -ErrorAction Stop } | Should -Throw -ErrorId 'OtherId' }
    It 'fails: Throw -ErrorId without the command part' { { Write-TestError -ErrorAction Stop } | Should -Throw -ErrorId 'TestErrorId' }
    It 'fails: Not Throw with an exception' { { throw 'boom' } | Should -Not -Throw }
    It 'fails: an assertion on a later pipeline item' { 1, 2 | Should -BeLessThan 2 }
}

Describe 'skipping' {
    BeforeAll {
        $setupRan = $true
    }

    It 'skipped: an It with -Skip' -Skip { throw 'a skipped It ran' }

    It 'skipped: an It with -Skip:$true' -Skip:$true { throw 'a skipped It ran' }

    It 'runs an It with -Skip:$false' -Skip:$false { $setupRan | Should -BeTrue }

    Context 'a skipped Context' -Skip {
        BeforeAll { throw 'the BeforeAll of a skipped block ran' }

        It 'skipped: every It inside it' { throw 'a skipped It ran' }
    }
}

Describe 'a skipped Describe' -Skip {
    BeforeAll { throw 'the BeforeAll of a skipped block ran' }
    AfterAll { throw 'the AfterAll of a skipped block ran' }

    It 'skipped: its Its, and its setup does not run' { throw 'a skipped It ran' }
}
