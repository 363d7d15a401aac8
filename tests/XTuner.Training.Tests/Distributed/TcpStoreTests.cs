using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;
using XTuner.Core;
using XTuner.Core.Launch;
using XTuner.Training.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Distributed
{
    [Collection(DistributedCollection.Name)]
    public class TcpStoreTests
    {
        private static readonly TimeSpan Patient = TimeSpan.FromSeconds(20);

        private static RankEnvironment Rank(int rank, int worldSize, int port) =>
            new RankEnvironment(rank, worldSize, rank, worldSize, 0, "127.0.0.1", port, RankLauncher.Torchrun, runToken: "tcp-store-tests");

        private static TcpStore[] Connect(int worldSize, int connected, TimeSpan timeout)
        {
            int port = FreePort.Next();
            return Enumerable.Range(0, connected).Select(r => TcpStore.Connect(Rank(r, worldSize, port), timeout)).ToArray();
        }

        private static void DisposeAll(TcpStore[] stores)
        {
            foreach (var store in stores.Reverse()) store.Dispose();
        }

        [Fact]
        public void ValuesAndCountersAreSharedByAllRanks()
        {
            var stores = Connect(3, 3, Patient);
            try
            {
                stores[0].Set("greeting", "hello");
                Assert.Equal("hello", stores[2].GetString("greeting"));

                Parallel.ForEach(stores, store =>
                {
                    for (int i = 0; i < 50; i++) store.Add("counter", 2);
                });
                Assert.Equal(301, stores[1].Add("counter", 1));
                Assert.Equal("301", stores[0].GetString("counter"));
            }
            finally
            {
                DisposeAll(stores);
            }
        }

        [Fact]
        public async Task GetWaitsForAKeySetLater()
        {
            var stores = Connect(2, 2, Patient);
            try
            {
                var pending = Task.Run(() => stores[1].GetString("late"));
                await Task.Delay(100);
                Assert.False(pending.IsCompleted);
                stores[0].Set("late", "now");
                Assert.Equal("now", await pending);
            }
            finally
            {
                DisposeAll(stores);
            }
        }

        [Fact]
        public void WaitNamesTheKeysThatNeverCame()
        {
            var stores = Connect(1, 1, Patient);
            try
            {
                stores[0].Set("here", "1");
                var e = Assert.Throws<XTunerException>(() => stores[0].Wait(new[] { "here", "absent" }, TimeSpan.FromMilliseconds(200)));
                Assert.Equal(ErrorIds.RendezvousTimeout, e.ErrorId);
                Assert.Contains("'absent' was not set", e.Message);
                Assert.DoesNotContain("'here'", e.Message);
            }
            finally
            {
                DisposeAll(stores);
            }
        }

        [Fact]
        public void BarrierPassesOnceEveryRankArrives()
        {
            var stores = Connect(3, 3, Patient);
            try
            {
                Parallel.ForEach(stores, store => store.Barrier("together", Patient));
            }
            finally
            {
                DisposeAll(stores);
            }
        }

        [Fact]
        public void BarrierNamesTheMissingRanksOnEveryRankThatCame()
        {
            var stores = Connect(4, 2, Patient);
            try
            {
                var errors = stores.AsParallel().Select(store => Record.Exception(() => store.Barrier("init", TimeSpan.FromMilliseconds(300)))).ToList();
                foreach (var error in errors)
                {
                    var e = Assert.IsType<XTunerException>(error);
                    Assert.Equal(ErrorIds.RendezvousTimeout, e.ErrorId);
                    Assert.StartsWith("ranks 2, 3 of 4 did not arrive at 'init' within 0.3 s", e.Message);
                }
            }
            finally
            {
                DisposeAll(stores);
            }
        }

        [Fact]
        public void WithoutRank0TheStoreIsNotReachedAndRank0IsNamed()
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var e = Assert.Throws<XTunerException>(() => TcpStore.Connect(Rank(1, 2, FreePort.Next()), TimeSpan.FromMilliseconds(500)));
            Assert.Equal(ErrorIds.RendezvousTimeout, e.ErrorId);
            Assert.StartsWith("rank 0 of 2 did not open the rendezvous store at 127.0.0.1:", e.Message);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10));
        }

        [Fact]
        public void ATakenPortIsAClearErrorForRank0()
        {
            var squatter = new TcpListener(IPAddress.Any, 0);
            squatter.Start();
            try
            {
                int port = ((IPEndPoint)squatter.LocalEndpoint).Port;
                var e = Assert.Throws<XTunerException>(() => TcpStore.Connect(Rank(0, 2, port), Patient));
                Assert.Equal(ErrorIds.RendezvousFailed, e.ErrorId);
                Assert.Contains("choose another MASTER_PORT", e.Message);
            }
            finally
            {
                squatter.Stop();
            }
        }

        [Fact]
        public async Task Rank0KeepsServingUntilTheOthersAreDone()
        {
            var stores = Connect(2, 2, Patient);
            var closing = Task.Run(stores[0].Dispose);
            await Task.Delay(200);
            Assert.False(closing.IsCompleted, "rank 0 must wait for rank 1 to finish with the store");
            stores[1].Set("still", "served");
            Assert.Equal("served", stores[1].GetString("still"));
            stores[1].Dispose();
            Assert.Same(closing, await Task.WhenAny(closing, Task.Delay(TimeSpan.FromSeconds(5))));
        }

        [Fact]
        public async Task ARankWaitingAtABarrierWhenRank0AbortsHearsThatRank0IsGone()
        {
            for (int attempt = 0; attempt < 5; attempt++)
            {
                var stores = Connect(2, 2, Patient);
                var waiting = Task.Run(() => Record.Exception(() => stores[1].Barrier("never", Patient)));
                await Task.Delay(100);
                stores[0].Abort();
                var e = Assert.IsType<XTunerException>(await waiting);
                Assert.Equal(ErrorIds.PeerLost, e.ErrorId);
                Assert.Contains("lost its connection to the rendezvous store", e.Message);
                stores[1].Dispose();
            }
        }

        [Fact]
        public void LosingRank0sStoreIsAPeerLost()
        {
            int port = FreePort.Next();
            var host = TcpStore.Connect(Rank(0, 2, port), TimeSpan.FromMilliseconds(100));
            var other = TcpStore.Connect(Rank(1, 2, port), Patient);
            try
            {
                host.Dispose(); // serves on for its 100 ms timeout, then stops though rank 1 is still connected
                var e = Assert.Throws<XTunerException>(() => other.Set("after", "1"));
                Assert.Equal(ErrorIds.PeerLost, e.ErrorId);
                Assert.Contains("lost its connection to the rendezvous store", e.Message);
            }
            finally
            {
                other.Dispose();
            }
        }
    }
}
