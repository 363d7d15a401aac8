using System.Diagnostics;
using System.Linq;
using Xunit;

namespace XTuner.Core.Tests
{
    /// <summary>Arguments reach a real child process exactly as given.</summary>
    public class ProcessArgumentsTests
    {
        private static readonly string[] AwkwardArguments =
        {
            "plain",
            "",
            "/tmp/a\\b c",
            "C:\\dir\\",
            "ends in two backslashes\\\\",
            "\\\\server\\share",
            "say \"hi\"",
            "\\\"",
            "a\\\\\"b",
            "\"",
            "tab\there",
            "new\nline",
            "it's",
            " leading and trailing ",
            "$HOME `x` ; | & *",
            "ünïcödé ✓",
        };

        public static TheoryData<string> Awkward()
        {
            var data = new TheoryData<string>();
            foreach (var argument in AwkwardArguments) data.Add(argument);
            return data;
        }

        [Theory]
        [MemberData(nameof(Awkward))]
        public void AnArgumentArrivesUnchanged(string argument)
        {
            Assert.Equal(new[] { argument }, Echo(argument));
        }

        [Fact]
        public void ManyArgumentsArriveInOrder()
        {
            Assert.Equal(AwkwardArguments, Echo(AwkwardArguments));
        }

        [Fact]
        public void BackslashesAreLeftAloneUnlessTheyPrecedeAQuote()
        {
            Assert.Equal("a\\b", ProcessArguments.Quote("a\\b"));
            Assert.Equal("\"/tmp/a\\b c\"", ProcessArguments.Quote("/tmp/a\\b c"));
            Assert.Equal("\"a\\\\\\\"b c\"", ProcessArguments.Quote("a\\\"b c"));
            Assert.Equal("\"x \\\\\"", ProcessArguments.Quote("x \\"));
        }

        /// <summary>What a child process receives: each argument printed NUL-terminated by /bin/sh.</summary>
        private static string[] Echo(params string[] arguments)
        {
            var info = new ProcessStartInfo("/bin/sh")
            {
                Arguments = ProcessArguments.Join(new[] { "-c", "printf '%s\\0' \"$@\"", "sh" }.Concat(arguments)),
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            using var p = Process.Start(info)!;
            var output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
            return output.Split('\0').SkipLast(1).ToArray();
        }
    }
}
