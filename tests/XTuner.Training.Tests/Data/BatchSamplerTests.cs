using System.Collections.Generic;
using System.Linq;
using XTuner.Core;
using XTuner.Training.Data;
using Xunit;

namespace XTuner.Training.Tests.Data
{
    public class BatchSamplerTests
    {
        private static List<int> Epoch(BatchSampler sampler, int epoch) =>
            Enumerable.Range(0, sampler.BatchesPerEpoch).SelectMany(b => sampler.Batch(epoch, b)).ToList();

        [Fact]
        public void OrderDependsOnlyOnSeedAndEpoch()
        {
            var a = new BatchSampler(100, 4, 0, 1, seed: 42, shuffle: true);
            var b = new BatchSampler(100, 4, 0, 1, seed: 42, shuffle: true);
            Assert.Equal(Epoch(a, 3), Epoch(b, 3));
            Assert.Equal(Epoch(a, 0), Epoch(b, 0));
            Assert.NotEqual(Epoch(a, 0), Epoch(a, 1));
            Assert.NotEqual(Epoch(a, 0), Epoch(new BatchSampler(100, 4, 0, 1, seed: 43, shuffle: true), 0));
        }

        [Fact]
        public void PermutationIsPinnedSoResumedAndRemoteRunsAgree()
        {
            // The generator is ours (SplitMix64); this order must never change between versions.
            var sampler = new BatchSampler(10, 10, 0, 1, seed: 42, shuffle: true);
            Assert.Equal(PinnedOrder, sampler.Batch(0, 0));
        }

        [Fact]
        public void EachEpochVisitsEverySequenceOnce()
        {
            var sampler = new BatchSampler(37, 3, 0, 1, seed: 1, shuffle: true, dropLast: false);
            Assert.Equal(13, sampler.BatchesPerEpoch);
            var seen = Epoch(sampler, 2);
            Assert.Equal(Enumerable.Range(0, 37), seen.Take(37).OrderBy(i => i));
            // The last global batch is filled from the start of the epoch's order.
            Assert.Equal(seen.Take(2), seen.Skip(37));
        }

        [Fact]
        public void DataParallelRanksSplitWhatOneRankWithTheWholeGlobalBatchSees()
        {
            var single = new BatchSampler(50, 2, 0, 1, seed: 9, shuffle: true);
            var rank0 = new BatchSampler(50, 1, 0, 2, seed: 9, shuffle: true);
            var rank1 = new BatchSampler(50, 1, 1, 2, seed: 9, shuffle: true);
            Assert.Equal(single.BatchesPerEpoch, rank0.BatchesPerEpoch);
            for (var epoch = 0; epoch < 2; epoch++)
                for (var b = 0; b < single.BatchesPerEpoch; b++)
                    Assert.Equal(single.Batch(epoch, b), rank0.Batch(epoch, b).Concat(rank1.Batch(epoch, b)));
        }

        [Fact]
        public void WithoutShuffleBatchesFollowFileOrder()
        {
            var sampler = new BatchSampler(10, 2, 1, 2, seed: 5, shuffle: false);
            Assert.Equal(2, sampler.BatchesPerEpoch);
            Assert.Equal(new[] { 2, 3 }, sampler.Batch(0, 0));
            Assert.Equal(new[] { 6, 7 }, sampler.Batch(7, 1));
        }

        [Fact]
        public void TooFewSequencesForOneGlobalBatchIsAnError()
        {
            var ex = Assert.Throws<XTunerException>(() => new BatchSampler(3, 2, 0, 2, seed: 1, shuffle: true));
            Assert.Contains("global batch of 4", ex.Message);
        }

        // Computed independently (a Python SplitMix64 + Fisher-Yates) from seed 42, epoch 0.
        private static readonly int[] PinnedOrder = { 9, 8, 1, 6, 7, 0, 2, 5, 4, 3 };
    }
}
