using System;
using System.Linq;
using TorchSharp;
using XTuner.Core;
using XTuner.Core.Launch;
using XTuner.Training.Distributed;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Distributed
{
    [Collection(DistributedCollection.Name)]
    public class DistributedRuntimeTests
    {
        [Fact]
        public void OneProcessWorldOpensNoSocketAndCollectivesAreCopies()
        {
            using var runtime = DistributedRuntime.Initialize(RankEnvironment.Single, DeviceType.CPU, TimeSpan.FromSeconds(5));
            using var scope = NewDisposeScope();

            Assert.Null(runtime.Store);
            Assert.Equal("local", runtime.Backend);
            Assert.Equal(new[] { 0 }, runtime.World.Ranks);
            var x = arange(6, ScalarType.Float32).view(2, 3);
            runtime.World.AllReduce(x, ReduceOp.Avg);
            Assert.Equal(15f, x.sum().item<float>());
            var gathered = zeros(1, 2, 3);
            runtime.World.AllGather(gathered, x);
            Assert.Equal(x.data<float>().ToArray(), gathered.data<float>().ToArray());
            var groups = runtime.ForLayout(new ParallelLayout(1, 1));
            Assert.Same(runtime.World, groups.SequenceParallel);
            Assert.Same(runtime.World, groups.DataParallel);
        }

        [Fact]
        public void ArgumentErrorsNameTheCollectiveTheGroupAndTheShapes()
        {
            using var runtime = DistributedRuntime.Initialize(RankEnvironment.Single, DeviceType.CPU, TimeSpan.FromSeconds(5));
            using var scope = NewDisposeScope();
            var world = runtime.World;

            var e = Assert.Throws<ArgumentException>(() => world.AllGather(zeros(3, 2), zeros(2, 2)));
            Assert.Contains("all_gather on group world[0]: output [3, 2] must be [1*n, ...] or [1, n, ...] for input [2, 2]", e.Message);
            e = Assert.Throws<ArgumentException>(() => world.ReduceScatter(zeros(2), zeros(2, ScalarType.Float64)));
            Assert.Contains("output is Float32 but input is Float64", e.Message);
            e = Assert.Throws<ArgumentException>(() => world.AllToAll(zeros(2, 2), zeros(4)));
            Assert.Contains("must have the same shape", e.Message);
            Assert.Throws<ArgumentOutOfRangeException>(() => world.Broadcast(zeros(2), 1));
        }

        [Fact]
        public void CollectivesOnThreeRanksHandleOddShapesStackedFormsAndViews()
        {
            ThreadWorld.Run(3, runtime =>
            {
                using var scope = NewDisposeScope();
                var world = runtime.World;
                int rank = world.Rank;

                // 7 elements over 3 ranks: ring chunks of 3, 2 and 2.
                var odd = full(new long[] { 7 }, rank + 1.0, ScalarType.Float64);
                world.AllReduce(odd, ReduceOp.Max);
                Assert.Equal(Enumerable.Repeat(3.0, 7), odd.data<double>().ToArray());

                var scalar = tensor((long)rank + 1);
                world.AllReduce(scalar);
                Assert.Equal(6L, scalar.item<long>());

                var stacked = zeros(3, 2, ScalarType.Int32);
                world.AllGather(stacked, full(new long[] { 2 }, rank, ScalarType.Int32));
                Assert.Equal(new[] { 0, 0, 1, 1, 2, 2 }, stacked.data<int>().ToArray());

                var input = arange(6, ScalarType.Float32).view(3, 2) + rank;
                var before = input.clone();
                var mine = zeros(2);
                world.ReduceScatter(mine, input);
                Assert.Equal(before.data<float>().ToArray(), input.data<float>().ToArray()); // reduce_scatter leaves its input alone
                Assert.Equal(new[] { 6f * rank + 3, 6f * rank + 6 }, mine.data<float>().ToArray());

                // Broadcast into a column of a matrix: a view with stride 2 that must be written in place.
                var matrix = full(new long[] { 3, 2 }, -1f);
                if (rank == 2) matrix.select(1, 0).copy_(tensor(new[] { 5f, 6f, 7f }));
                world.Broadcast(matrix.select(1, 0), 2);
                Assert.Equal(new[] { 5f, -1f, 6f, -1f, 7f, -1f }, matrix.data<float>().ToArray());

                var sent = (arange(3, ScalarType.Int64) + 10 * rank).view(3, 1).expand(3, 2).t(); // non-contiguous [2, 3]
                var received = zeros(2, 3, ScalarType.Int64);
                Assert.Throws<ArgumentException>(() => world.AllToAll(received, sent)); // dim 0 (2) does not split 3 ways
                var rows = (arange(3, ScalarType.Int64) + 10 * rank).view(3, 1);
                var got = zeros(3, 1, ScalarType.Int64);
                world.AllToAll(got, rows);
                Assert.Equal(new[] { (long)rank, 10L + rank, 20L + rank }, got.data<long>().ToArray());

                world.Barrier();
            });
        }

        [Fact]
        public void GroupsAreMadeByEveryRankAndUsedByTheirMembers()
        {
            ThreadWorld.Run(4, runtime =>
            {
                using var scope = NewDisposeScope();
                int rank = runtime.Environment.Rank;
                var middle = runtime.NewGroup(new[] { 1, 2 });
                Assert.Equal(rank == 1 || rank == 2, middle != null);

                var layout = new ParallelLayout(4, 2);
                var groups = runtime.ForLayout(layout);
                Assert.Equal(layout.SpGroupOf(rank), groups.SequenceParallel.Ranks);
                Assert.Equal(layout.DpGroupOf(rank), groups.DataParallel.Ranks);
                Assert.Equal(layout.SpRank(rank), groups.SequenceParallel.Rank);
                Assert.Equal(layout.DpRank(rank), groups.DataParallel.Rank);

                var sp = tensor(rank + 1.0);
                groups.SequenceParallel.AllReduce(sp);
                Assert.Equal(rank < 2 ? 3.0 : 7.0, sp.item<double>());
                var dp = tensor(rank + 1.0);
                groups.DataParallel.AllReduce(dp);
                Assert.Equal(rank % 2 == 0 ? 4.0 : 6.0, dp.item<double>());
                if (middle != null)
                {
                    var m = tensor((double)rank);
                    middle.AllReduce(m);
                    Assert.Equal(3.0, m.item<double>());
                }
            });
        }

        /// <summary>A large ring all-reduce (its overlapped send and receive must not deadlock on full socket buffers).
        /// Its speed is measured by `xtuner check-collectives`, which prints each collective's time and bandwidth.</summary>
        [Fact]
        public void RingAllReduceOfTenMillionFloatsBetweenTwoRanksIsExact()
        {
            ThreadWorld.Run(2, runtime =>
            {
                using var scope = NewDisposeScope();
                var world = runtime.World;
                var x = full(new long[] { 10_000_000 }, world.Rank + 1f);
                world.AllReduce(x);
                Assert.Equal(3f, x.min().item<float>());
                Assert.Equal(3f, x.max().item<float>());
            });
        }

        [Fact]
        public void AfterAPeerVanishesTheGroupFailsAtOnceAndKeepsFailing()
        {
            var errors = new Exception?[2];
            ThreadWorld.Run(2, runtime =>
            {
                using var scope = NewDisposeScope();
                var world = runtime.World;
                world.AllReduce(ones(4));
                if (world.Rank == 1) return; // leaves the world: its connections close as its runtime is disposed
                var first = Assert.Throws<XTunerException>(() => world.AllReduce(ones(1000)));
                Assert.Equal(ErrorIds.PeerLost, first.ErrorId);
                Assert.Contains("Rank 1 closed its connection during all_reduce on group world[0,1]", first.Message);
                var again = Assert.Throws<XTunerException>(() => world.Barrier());
                Assert.Contains("failed earlier and cannot run barrier", again.Message);
                errors[0] = first;
            });
            Assert.NotNull(errors[0]);
        }
    }
}
