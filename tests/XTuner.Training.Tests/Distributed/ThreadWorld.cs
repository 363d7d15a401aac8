using System;
using System.Linq;
using System.Threading;
using TorchSharp;
using XTuner.Core.Launch;
using XTuner.Training.Distributed;
using Xunit.Sdk;

namespace XTuner.Training.Tests.Distributed
{
    /// <summary>
    /// A CPU world whose ranks are threads of the test process: the whole runtime (store, connections, rings) runs
    /// for real, without the cost of starting processes. A rank still running at the timeout fails the test.
    /// </summary>
    internal static class ThreadWorld
    {
        public static void Run(int worldSize, Action<DistributedRuntime> rank, TimeSpan? timeout = null)
        {
            var limit = timeout ?? TimeSpan.FromSeconds(60);
            int port = FreePort.Next();
            var errors = new Exception?[worldSize];
            var threads = Enumerable.Range(0, worldSize).Select(r => new Thread(() =>
            {
                try
                {
                    var env = new RankEnvironment(r, worldSize, r, worldSize, 0, "127.0.0.1", port, RankLauncher.Torchrun, runToken: "thread-world");
                    using var runtime = DistributedRuntime.Initialize(env, DeviceType.CPU, limit);
                    rank(runtime);
                }
                catch (Exception e)
                {
                    errors[r] = e;
                }
            }) { IsBackground = true, Name = "rank " + r }).ToList();
            threads.ForEach(t => t.Start());
            var deadline = DateTime.UtcNow + limit + TimeSpan.FromSeconds(10);
            foreach (var thread in threads)
                if (!thread.Join(Max(deadline - DateTime.UtcNow, TimeSpan.Zero)))
                    throw new XunitException($"{thread.Name} was still running after {limit.TotalSeconds} s");
            var failed = errors.Select((e, r) => (e, r)).Where(x => x.e != null).ToList();
            if (failed.Count > 0)
                throw new AggregateException(string.Join("; ", failed.Select(f => $"rank {f.r}: {f.e!.Message}")), failed.Select(f => f.e!));
        }

        private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
    }
}
