using TorchSharp;
using XTuner.Training.SequenceParallel;
using XTuner.Training.Tests.Distributed;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.SequenceParallel
{
    public class SequenceAllToAllTests
    {
        private const long Batch = 2, Length = 6, Heads = 4, Dim = 3;

        private static Tensor Whole(double offset) =>
            arange(Batch * Length * Heads * Dim, ScalarType.Float64).add(offset).view(Batch, Length, Heads, Dim);

        [Theory]
        [InlineData(2)]
        [InlineData(3)]
        public void ToFullSequenceGivesTheWholeSequenceOfThisRanksHeadsAndToLocalChunkUndoesIt(int sp)
        {
            long heads = 2L * sp, chunk = Length / sp;
            ThreadWorld.Run(sp, runtime =>
            {
                var group = runtime.World;
                int r = group.Rank;
                using var whole = arange(Batch * Length * heads * Dim, ScalarType.Float64).view(Batch, Length, heads, Dim);
                using var mine = whole.narrow(1, r * chunk, chunk).contiguous();
                using var full = SequenceAllToAll.ToFullSequence(mine, group);
                Assert.Equal(whole.narrow(2, r * (heads / sp), heads / sp), full);
                using var back = SequenceAllToAll.ToLocalChunk(full, group);
                Assert.Equal(mine, back);
            });
        }

        [Fact]
        public void BackwardIsTheExchangeWithTheDimensionsSwapped()
        {
            const int sp = 2;
            ThreadWorld.Run(sp, runtime =>
            {
                var group = runtime.World;
                int r = group.Rank;
                using var weights = Whole(0.5);
                using var x = Whole(0).narrow(1, r * (Length / sp), Length / sp).contiguous().requires_grad_();
                // d/dx of sum(ToFullSequence(x) * w_r), with w_r this rank's heads of the whole weights, is the whole
                // weights' sequence chunk of this rank: what the inverse exchange delivers.
                using var mine = weights.narrow(2, r * (Heads / sp), Heads / sp);
                using var loss = SequenceAllToAll.ToFullSequence(x, group).mul(mine).sum();
                loss.backward();
                Assert.Equal(weights.narrow(1, r * (Length / sp), Length / sp), x.grad!);
            });
        }
    }
}
