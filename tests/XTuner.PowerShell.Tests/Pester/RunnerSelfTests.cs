using System;
using System.IO;
using System.Linq;
using XTuner.PowerShell.Tests.Hosting;
using Xunit;

namespace XTuner.PowerShell.Tests.Pester
{
    /// <summary>The runner against RunnerChecks/RunnerSelfCheck.ps1: Its named 'fails: ...' must fail, with Pester's messages.</summary>
    public sealed class RunnerSelfTests
    {
        private static readonly string CheckFile = Path.Combine(AppContext.BaseDirectory, "RunnerChecks", "RunnerSelfCheck.ps1");

        private static PesterFile Run => PesterFile.Run(CheckFile);

        [Fact]
        public void Every_check_ends_as_its_name_says()
        {
            Assert.NotEmpty(Run.Tests);
            var wrong = Run.Tests
                .Where(t => t.Result != Expected(t.Name))
                .Select(t => $"{t.Name}: {t.Result} {t.Message}")
                .ToList();
            Assert.True(wrong.Count == 0, string.Join("\n\n", wrong));
        }

        [Theory]
        [InlineData("Should > fails: Be with a different value", "Expected 2, but got 1.")]
        [InlineData("Should > fails: Be with -Because", "Expected 2, because reasons, but got 1.")]
        [InlineData("Should > fails: Be with different strings", "Expected strings to be the same, but they were different.\nString lengths are both 4.\nStrings differ at index 2.\nExpected: 'abXd'\nBut was:  'abcd'")]
        [InlineData("Should > fails: Not Be with the same value", "Expected 1 to be different from the actual value, but got the same value.")]
        [InlineData("Should > fails: BeExactly with another case", "Expected exactly 'A', but got 'a'.")]
        [InlineData("Should > fails: BeNullOrEmpty with a value", "Expected $null or empty, but got 'x'.")]
        [InlineData("Should > fails: BeTrue with false", "Expected $true, but got $false.")]
        [InlineData("Should > fails: BeOfType with another type", "Expected the value to have type [System.String] or any of its subtypes, but got 1 with type [System.Int32].")]
        [InlineData("Should > fails: BeGreaterThan with a smaller value", "Expected the actual value to be greater than 2, but got 1.")]
        [InlineData("Should > fails: Match without a match", "Expected regular expression 'x' to match 'abc', but it did not match.")]
        [InlineData("Should > fails: Contain without the item", "Expected 3 to be found in collection @(1, 2), but it was not found.")]
        [InlineData("Should > fails: HaveCount with another count", "Expected a collection with size 3, but got collection with size 2 @(1, 2).")]
        [InlineData("Should > fails: BeIn without the item", "Expected collection @(1, 2) to contain 4, but it was not found.")]
        [InlineData("Should > fails: Throw without an exception", "Expected an exception to be thrown, but no exception was thrown.")]
        [InlineData("Should > fails: Throw -ErrorId with another id", "Expected an exception with FullyQualifiedErrorId 'OtherId' to be thrown, but the FullyQualifiedErrorId was 'TestErrorId,Write-TestError'.")]
        [InlineData("Should > fails: Throw -ErrorId without the command part", "Expected an exception with FullyQualifiedErrorId 'TestErrorId' to be thrown, but the FullyQualifiedErrorId was 'TestErrorId,Write-TestError'.")]
        [InlineData("Should > fails: Not Throw with an exception", "Expected no exception to be thrown, but an exception \"boom\" was thrown from ")]
        [InlineData("Should > fails: an assertion on a later pipeline item", "Expected the actual value to be less than 2, but got 2.")]
        public void A_failing_Should_fails_its_It_with_Pesters_message_and_the_line(string test, string message)
        {
            var result = Run[test];
            Assert.Equal("Failed", result.Result);
            Assert.StartsWith(message, result.Message);
            Assert.Contains("RunnerSelfCheck.ps1:", result.Message);
        }

        [Fact]
        public void A_failing_BeforeAll_fails_every_It_below_it_with_its_error()
        {
            foreach (var name in new[] { "a failing BeforeAll > fails: the Its of its block", "a failing BeforeAll > nested > fails: and of nested blocks" })
                Assert.Contains("BeforeAll of 'a failing BeforeAll' failed", Run[name].Message);
            Assert.Contains("setup broke", Run["a failing BeforeAll > fails: the Its of its block"].Message);
        }

        [Fact]
        public void A_failing_AfterAll_is_an_error_of_the_file()
        {
            var error = Assert.Single(Run.Errors);
            Assert.Contains("AfterAll of 'a failing AfterAll' failed", error);
            Assert.Contains("teardown broke", error);
        }

        [Fact]
        public void Test_cases_expand_the_name()
        {
            Assert.True(Run["test cases > expands one to the case value 1"].Passed);
            Assert.True(Run["test cases > expands two to the case value 2"].Passed);
            Assert.True(Run["test cases > also passes the case to param(): a"].Passed);
        }

        [Fact]
        public void TestDrive_is_removed_after_the_file()
        {
            Assert.True(Run["TestDrive > is an existing folder, also reachable as TestDrive:"].Passed);
            var testDrive = Environment.GetEnvironmentVariable("PESTER_COMPAT_TESTDRIVE");
            Assert.False(string.IsNullOrEmpty(testDrive));
            Assert.False(Directory.Exists(testDrive), $"{testDrive} is left behind.");
        }

        [Fact]
        public void Discovery_finds_the_Its_the_run_reports_without_running_them()
        {
            var discovered = PesterFile.Discover(CheckFile);
            Assert.Equal(Run.Tests.Select(t => t.Name), discovered.Tests.Select(t => t.Name));
            Assert.All(discovered.Tests, t => Assert.Equal(Expected(t.Name) == "Skipped" ? "Skipped" : "NotRun", t.Result));
        }

        // What an It of the check file must end as, by the start of its own name.
        private static string Expected(string name)
        {
            var own = name.Split(" > ").Last();
            return own.StartsWith("fails:", StringComparison.Ordinal) ? "Failed" : own.StartsWith("skipped:", StringComparison.Ordinal) ? "Skipped" : "Passed";
        }
    }
}
