using System.Linq;
using XTuner.Training.Tokenization;
using Xunit;

namespace XTuner.Training.Tests.Tokenization
{
    public class AddedTokenSplitterTests
    {
        private static string Split(string text, params AddedToken[] tokens) =>
            string.Join("|", new AddedTokenSplitter(tokens).Split(text).Select(s => s.IsToken ? $"#{s.TokenId}" : s.Text));

        [Fact]
        public void LongestTokenWinsWhereSeveralStartTogether() =>
            Assert.Equal("a|#2|b|#1", Split("a<|im_start|>b<|im", new AddedToken("<|im", 1), new AddedToken("<|im_start|>", 2)));

        [Fact]
        public void StripFlagsAbsorbNeighbouringWhitespace()
        {
            Assert.Equal("a|#1| b", Split("a  <mask> b", new AddedToken("<mask>", 1, LeftStrip: true)));
            Assert.Equal("a  |#1|b", Split("a  <mask> b", new AddedToken("<mask>", 1, RightStrip: true)));
        }

        [Fact]
        public void SingleWordTokensMatchOnlyBetweenNonWordCharacters() =>
            Assert.Equal("xtok |#1| |#1", Split("xtok tok tok", new AddedToken("tok", 1, SingleWord: true)));

        [Fact]
        public void SegmentsRememberWhereTheyStart()
        {
            var segments = new AddedTokenSplitter(new[] { new AddedToken("<s>", 1) }).Split("<s>ab<s>c");
            Assert.Equal(new[] { 0, 3, 5, 8 }, segments.Select(s => s.Offset));
        }
    }
}
