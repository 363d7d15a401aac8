using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using XTuner.Training.Tokenization.HuggingFace;
using Xunit;

namespace XTuner.Training.Tests.Tokenization
{
    /// <summary>Split behaviours as tokenizers defines them (its own doc example: "the-final--countdown" split on '-').</summary>
    public class PatternSplitterTests
    {
        [Theory]
        [InlineData("Removed", false, "the|final|countdown")]
        [InlineData("Isolated", false, "the|-|final|-|-|countdown")]
        [InlineData("MergedWithPrevious", false, "the-|final-|-|countdown")]
        [InlineData("MergedWithNext", false, "the|-final|-|-countdown")]
        [InlineData("Contiguous", false, "the|-|final|--|countdown")]
        [InlineData("Removed", true, "-|-|-")]
        [InlineData("Isolated", true, "the|-|final|-|-|countdown")]
        public void BehavioursFoldMatchesAsTokenizersDoes(string behavior, bool invert, string expected)
        {
            var splitter = new PatternSplitter(new Regex("-"), System.Enum.Parse<SplitBehavior>(behavior), invert);
            var output = new List<PreToken>();
            splitter.Split(new PreToken("the-final--countdown", true), output);
            Assert.Equal(expected, string.Join("|", output.Select(p => p.Text)));
        }

        [Fact]
        public void OnlyThePieceAtOffsetZeroKeepsTheInputStartMark()
        {
            var output = new List<PreToken>();
            new PatternSplitter(new Regex(" "), SplitBehavior.MergedWithNext).Split(new PreToken("a b", true), output);
            Assert.Equal(new[] { true, false }, output.Select(p => p.AtInputStart));
        }
    }
}
