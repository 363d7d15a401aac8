using System.Linq;
using XTuner.Core.Launch;
using Xunit;

namespace XTuner.Core.Tests.Launch
{
    public class ParallelLayoutTests
    {
        [Fact]
        public void TwoNodesOfFourGpusWithSp4KeepEachSpGroupOnOneNode()
        {
            var layout = new ParallelLayout(8, 4);

            Assert.Equal(2, layout.DataParallelSize);
            Assert.Equal(new[] { new[] { 0, 1, 2, 3 }, new[] { 4, 5, 6, 7 } }, layout.SpGroups.Select(g => g.ToArray()));
            Assert.Equal(new[] { new[] { 0, 4 }, new[] { 1, 5 }, new[] { 2, 6 }, new[] { 3, 7 } }, layout.DpGroups.Select(g => g.ToArray()));
            Assert.Equal(new[] { 4, 5, 6, 7 }, layout.SpGroupOf(6));
            Assert.Equal(new[] { 2, 6 }, layout.DpGroupOf(6));
            Assert.Equal(2, layout.SpRank(6));
            Assert.Equal(1, layout.DpRank(6));
        }

        [Fact]
        public void TwoNodesOfFourGpusWithSp2()
        {
            var layout = new ParallelLayout(8, 2);

            Assert.Equal(new[] { 6, 7 }, layout.SpGroupOf(7));
            Assert.Equal(new[] { 1, 3, 5, 7 }, layout.DpGroupOf(7));
            Assert.Equal(1, layout.SpRank(7));
            Assert.Equal(3, layout.DpRank(7));
        }

        [Fact]
        public void EveryRankIsInExactlyOneGroupOfEachKindAtItsOwnIndex()
        {
            var layout = new ParallelLayout(12, 3);
            for (int rank = 0; rank < 12; rank++)
            {
                Assert.Single(layout.SpGroups, g => g.Contains(rank));
                Assert.Single(layout.DpGroups, g => g.Contains(rank));
                Assert.Equal(rank, layout.SpGroupOf(rank)[layout.SpRank(rank)]);
                Assert.Equal(rank, layout.DpGroupOf(rank)[layout.DpRank(rank)]);
            }
        }

        [Theory]
        [InlineData(1, 1)]
        [InlineData(4, 4)]
        [InlineData(4, 1)]
        public void DegenerateLayouts(int world, int sp)
        {
            var layout = new ParallelLayout(world, sp);
            Assert.Equal(Enumerable.Range(0, sp), layout.SpGroupOf(0));
            Assert.Equal(Enumerable.Range(0, world / sp).Select(d => d * sp), layout.DpGroupOf(0));
        }

        [Fact]
        public void SpThatDoesNotDivideTheWorldIsAClearError()
        {
            var e = Assert.Throws<XTunerException>(() => new ParallelLayout(8, 3));
            Assert.Equal(ErrorIds.InvalidSequenceParallelSize, e.ErrorId);
            Assert.Contains("3 does not divide the world size 8", e.Message);
            Assert.Contains("1, 2, 4, 8", e.Message);
        }

        [Theory]
        [InlineData(0, 1, ErrorIds.InvalidWorldSize)]
        [InlineData(4, 0, ErrorIds.InvalidSequenceParallelSize)]
        public void NonPositiveSizesAreErrors(int world, int sp, string errorId)
        {
            Assert.Equal(errorId, Assert.Throws<XTunerException>(() => new ParallelLayout(world, sp)).ErrorId);
        }

        [Fact]
        public void RanksOutsideTheWorldAreRejected()
        {
            var layout = new ParallelLayout(4, 2);
            Assert.Throws<System.ArgumentOutOfRangeException>(() => layout.SpGroupOf(4));
            Assert.Throws<System.ArgumentOutOfRangeException>(() => layout.DpRank(-1));
        }
    }
}
