using System.Linq;
using XTuner.Training.Data;
using Xunit;

namespace XTuner.Training.Tests.Data
{
    public class SyntheticSequencesTests
    {
        [Fact]
        public void WithoutADocumentLengthEachSequenceIsOneDocument()
        {
            var s = new SyntheticSequences(2, 100, 50, 7)[1];
            Assert.Equal(new[] { 100 }, s.DocumentLengths);
            Assert.Equal(Enumerable.Range(0, 100), s.PositionIds);
            Assert.Equal(s.InputIds, s.Labels);
        }

        [Fact]
        public void DocumentsOfAboutTheLengthFillTheSequenceWithPositionsRestarting()
        {
            var one = new SyntheticSequences(1, 5000, 50, 7)[0];
            var s = new SyntheticSequences(1, 5000, 50, 7, documentLength: 300)[0];
            Assert.Equal(one.InputIds, s.InputIds); // the same tokens: only the documents differ
            Assert.Equal(5000, s.DocumentLengths.Sum());
            Assert.All(s.DocumentLengths.Take(s.Documents - 1), n => Assert.InRange(n, 150, 450));
            Assert.InRange(s.Documents, 5000 / 450, 5000 / 150 + 1);
            int start = 0;
            foreach (var n in s.DocumentLengths)
            {
                Assert.Equal(Enumerable.Range(0, n), s.PositionIds.Skip(start).Take(n));
                start += n;
            }
            Assert.Equal(s.DocumentLengths, new SyntheticSequences(1, 5000, 50, 7, documentLength: 300)[0].DocumentLengths);
        }
    }
}
