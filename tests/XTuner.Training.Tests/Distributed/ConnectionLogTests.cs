using System;
using System.Collections.Generic;
using XTuner.Training.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Distributed
{
    public sealed class ConnectionLogTests
    {
        [Fact]
        public void A_burst_of_closed_connections_writes_ten_lines_then_one_that_counts_the_rest()
        {
            var lines = new List<string>();
            var now = TimeSpan.Zero;
            var log = new ConnectionLog(lines.Add, "rendezvous store 127.0.0.1:29500", () => now);

            for (int i = 0; i < 1000; i++) log.Closed("10.0.0.9:" + i, "it sent 'GET / HT', not an xtuner hello");
            Assert.Equal(10, lines.Count);
            Assert.Equal("xtuner: rendezvous store 127.0.0.1:29500: closed a connection from 10.0.0.9:0: it sent 'GET / HT', not an xtuner hello", lines[0]);

            now = TimeSpan.FromMinutes(1);
            log.Closed(null, "accept failed: too many open files");
            Assert.Equal(12, lines.Count);
            Assert.Equal("xtuner: rendezvous store 127.0.0.1:29500: 990 more connection(s) closed in the last minute (not shown)", lines[10]);
            Assert.EndsWith("closed a connection from an unknown address: accept failed: too many open files", lines[11]);
            Assert.Equal(1001, log.Count);
        }

        [Fact]
        public void A_log_that_cannot_be_written_is_no_failure_of_the_listener()
        {
            var log = new ConnectionLog(_ => throw new ObjectDisposedException("stderr"), "x");
            log.Closed("a", "b");
            Assert.Equal(1, log.Count);
        }
    }
}
