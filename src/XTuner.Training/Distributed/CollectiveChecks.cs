using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using TorchSharp;
using XTuner.Core.Launch;
using static TorchSharp.torch;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// Runs every collective on the world and on sub-groups and compares each result with its closed form, computed
    /// locally from the rank-dependent fills (no communication involved in the expectation). The fills are small
    /// integers, so results are exact in every dtype while the group is small enough for them to be representable
    /// (bfloat16 holds integers up to 256); beyond that, and for float averages (NCCL multiplies by 1/n before
    /// summing), a relative tolerance is used and printed. Each group's member 0 prints one line per check; a rank
    /// that sees a wrong value prints a FAIL line with the first wrong element.
    /// </summary>
    public sealed class CollectiveChecks
    {
        private readonly DistributedRuntime _runtime;
        private readonly CollectiveCheckOptions _options;
        private readonly TextWriter _output;
        private readonly Device _device;
        private long _checks;
        private long _failures;

        private CollectiveChecks(DistributedRuntime runtime, CollectiveCheckOptions options, TextWriter output)
        {
            _runtime = runtime;
            _options = options;
            _output = output;
            _device = runtime.Device;
        }

        /// <summary>Runs the checks on this rank; returns the number of failed checks over the whole world (the same on every rank).</summary>
        public static long Run(DistributedRuntime runtime, CollectiveCheckOptions options, TextWriter output)
        {
            if (runtime == null) throw new ArgumentNullException(nameof(runtime));
            if (options == null) throw new ArgumentNullException(nameof(options));
            return new CollectiveChecks(runtime, options, output).RunAll();
        }

        private long RunAll()
        {
            var env = _runtime.Environment;
            var groups = CreateGroups(out var described);
            if (env.Rank == 0)
            {
                var nccl = _runtime.Backend == "nccl" ? " " + NcclLibrary.Instance.Version : "";
                Line($"check-collectives: {env.WorldSize} rank(s) ({env.Launcher.ToString().ToLowerInvariant()}), device {_runtime.Device}, " +
                     $"backend {_runtime.Backend}{nccl}, {torch.get_num_threads()} CPU thread(s) per rank");
                Line("groups: " + string.Join(" ", described));
            }
            foreach (var group in groups) CheckGroup(group);

            using var scope = torch.NewDisposeScope();
            var counts = torch.tensor(new[] { _checks, _failures }, device: _device);
            _runtime.World.AllReduce(counts);
            long checks = counts[0].item<long>(), failures = counts[1].item<long>();
            if (env.Rank == 0)
                Line(failures == 0
                    ? $"check-collectives: all {checks} checks passed on {env.WorldSize} rank(s)"
                    : $"check-collectives: FAILED: {failures} of {checks} checks failed (see the FAIL lines)");
            return failures;
        }

        /// <summary>The groups every rank creates, in the same order; this rank's memberships come back.</summary>
        private List<IProcessGroup> CreateGroups(out List<string> described)
        {
            int world = _runtime.Environment.WorldSize;
            var mine = new List<IProcessGroup> { _runtime.World };
            described = new List<string> { Describe("world", Enumerable.Range(0, world)) };
            if (_options.SequenceParallelSize is int sp)
            {
                var layout = new ParallelLayout(world, sp);
                var groups = _runtime.ForLayout(layout);
                described.AddRange(layout.SpGroups.Select((g, i) => Describe(g.Count == world ? "world" : "sp" + i, g)));
                described.AddRange(layout.DpGroups.Select((g, i) => Describe(g.Count == world ? "world" : "dp" + i, g)));
                foreach (var group in new[] { groups.SequenceParallel, groups.DataParallel })
                    if (!mine.Contains(group)) mine.Add(group);
                return mine;
            }
            for (int pair = 0; pair < world / 2; pair++)
            {
                var ranks = new[] { 2 * pair, 2 * pair + 1 };
                described.Add(Describe("pair" + pair, ranks));
                var group = _runtime.NewGroup(ranks, "pair" + pair);
                if (group != null) mine.Add(group);
            }
            if (world > 1)
            {
                // Member order differs from rank order: catches a backend that confuses member indices with ranks.
                var ranks = Enumerable.Range(0, world).Reverse().ToArray();
                described.Add(Describe("reversed", ranks));
                mine.Add(_runtime.NewGroup(ranks, "reversed")!);
            }
            return mine;
        }

        private void CheckGroup(IProcessGroup group)
        {
            foreach (var dtype in _options.DTypes)
            foreach (var n in _options.Sizes)
            {
                if (Wanted("all_reduce"))
                {
                    foreach (ReduceOp op in Enum.GetValues(typeof(ReduceOp))) AllReduce(group, dtype, n, op, strided: false);
                    AllReduce(group, dtype, n, ReduceOp.Sum, strided: true);
                }
                if (Wanted("all_gather"))
                {
                    AllGather(group, dtype, n, strided: false);
                    AllGather(group, dtype, n, strided: true);
                }
                if (Wanted("reduce_scatter"))
                    foreach (ReduceOp op in Enum.GetValues(typeof(ReduceOp))) ReduceScatter(group, dtype, n, op);
                if (Wanted("all_to_all"))
                {
                    AllToAll(group, dtype, n, strided: false);
                    AllToAll(group, dtype, n, strided: true);
                }
                if (Wanted("broadcast"))
                    foreach (var root in new[] { 0, group.Size - 1 }.Distinct()) Broadcast(group, dtype, n, root);
            }
            if (Wanted("barrier"))
            {
                var time = Time(group.Barrier);
                _checks++;
                if (group.Rank == 0) Line($"ok barrier group={Describe(group)} {Milliseconds(time)}");
                AfterCheck();
            }
        }

        private void AllReduce(IProcessGroup group, ScalarType dtype, long n, ReduceOp op, bool strided)
        {
            using var scope = torch.NewDisposeScope();
            double size = group.Size;
            var m = Pattern(n);
            var (tensor, untouched) = Place(m + (group.Rank + 1), dtype, strided);
            var sum = m * size + size * (size + 1) / 2;
            var expected = op switch
            {
                ReduceOp.Sum => sum,
                ReduceOp.Avg => Average(sum, size, dtype),
                ReduceOp.Max => m + size,
                _ => m + 1,
            };
            var time = Time(() => group.AllReduce(tensor, op));
            var largest = size * (size + 1) / 2 + 2 * size;
            Report(group, $"all_reduce {Name(op)}{(strided ? " strided" : "")}", dtype, n, time, n, tensor, expected,
                Tolerance(dtype, largest, op == ReduceOp.Avg, group.Size), untouched);
        }

        private void AllGather(IProcessGroup group, ScalarType dtype, long n, bool strided)
        {
            using var scope = torch.NewDisposeScope();
            double size = group.Size;
            var m = Pattern(n);
            var (input, _) = Place(m + (group.Rank + 1), dtype, strided);
            var (output, untouched) = Place(torch.full(group.Size * n, -1.0, ScalarType.Float64, _device), dtype, strided);
            var expected = (Members(group.Size).view(-1, 1) + 1 + m.view(1, -1)).view(-1);
            var time = Time(() => group.AllGather(output, input));
            Report(group, "all_gather" + (strided ? " strided" : ""), dtype, n, time, group.Size * n, output, expected,
                Tolerance(dtype, size + 3, false, group.Size), untouched);
        }

        private void ReduceScatter(IProcessGroup group, ScalarType dtype, long n, ReduceOp op)
        {
            using var scope = torch.NewDisposeScope();
            double size = group.Size;
            var m = Pattern(n);
            // Member r puts r + 1 + 2c + m[j] at element j of chunk c, so chunk c's reduction depends on c.
            var input = ((Members(group.Size) * 2).view(-1, 1) + m.view(1, -1) + (group.Rank + 1)).view(-1).to(dtype);
            var output = torch.full(n, -1.0, ScalarType.Float64, _device).to(dtype);
            var own = m + 2.0 * group.Rank;
            var sum = own * size + size * (size + 1) / 2;
            var expected = op switch
            {
                ReduceOp.Sum => sum,
                ReduceOp.Avg => Average(sum, size, dtype),
                ReduceOp.Max => own + size,
                _ => own + 1,
            };
            var time = Time(() => group.ReduceScatter(output, input, op));
            var largest = size * (size + 1) / 2 + 2 * size * size;
            Report(group, $"reduce_scatter {Name(op)}", dtype, n, time, group.Size * n, output, expected,
                Tolerance(dtype, largest, op == ReduceOp.Avg, group.Size), null);
        }

        private void AllToAll(IProcessGroup group, ScalarType dtype, long n, bool strided)
        {
            using var scope = torch.NewDisposeScope();
            long size = group.Size;
            // Element j of the chunk that member s sends member d: 1 + (s*size + d) % 100 + 100*(j % 2), unique per
            // (s, d) for groups of up to 10 and exact in bfloat16.
            var odd = (torch.arange(0, n, ScalarType.Float64, _device).remainder(2) * 100).view(1, -1);
            Tensor Value(Tensor sources, Tensor targets) => ((sources * size + targets).remainder(100) + 1).view(-1, 1) + odd;
            var members = Members(group.Size);
            var (input, _) = Place(Value(torch.full(size, (double)group.Rank, ScalarType.Float64, _device), members).view(-1), dtype, strided);
            var output = torch.full(size * n, -1.0, ScalarType.Float64, _device).to(dtype);
            var expected = Value(members, torch.full(size, (double)group.Rank, ScalarType.Float64, _device)).view(-1);
            var time = Time(() => group.AllToAll(output, input));
            Report(group, "all_to_all" + (strided ? " strided" : ""), dtype, n, time, size * n, output, expected, 0, null);
        }

        private void Broadcast(IProcessGroup group, ScalarType dtype, long n, int root)
        {
            using var scope = torch.NewDisposeScope();
            var value = Pattern(n) + (root + 1);
            var (tensor, untouched) = Place(group.Rank == root ? value : torch.full(n, -1.0, ScalarType.Float64, _device), dtype, strided: false);
            var time = Time(() => group.Broadcast(tensor, root));
            Report(group, $"broadcast root={root}", dtype, n, time, n, tensor, value, 0, untouched);
        }

        /// <summary>
        /// Puts <paramref name="values"/> (float64) into a tensor of <paramref name="dtype"/>; strided, it is every
        /// other element of a larger buffer whose other elements hold 7 and must keep it.
        /// </summary>
        private (Tensor Tensor, Tensor? Untouched) Place(Tensor values, ScalarType dtype, bool strided)
        {
            if (!strided) return (values.to(dtype), null);
            var buffer = torch.full(new[] { values.numel(), 2L }, 7.0, dtype, _device);
            var tensor = buffer.select(1, 0);
            tensor.copy_(values);
            return (tensor, buffer.select(1, 1));
        }

        private void Report(IProcessGroup group, string check, ScalarType dtype, long n, TimeSpan time, long elementsMoved,
            Tensor actual, Tensor expected, double tolerance, Tensor? untouched)
        {
            _checks++;
            var what = $"{check} {DTypeName(dtype)} n={n} group={Describe(group)}";
            var problem = Mismatch(actual, expected, tolerance) ??
                          (untouched is null ? null : Mismatch(untouched, torch.full_like(untouched, 7.0, ScalarType.Float64), 0)?.Insert(0, "outside the strided view: "));
            if (problem != null)
            {
                _failures++;
                Line($"FAIL {what} rank {_runtime.Environment.Rank}: {problem}");
            }
            else if (group.Rank == 0)
            {
                double bytes = elementsMoved * (double)torch.empty(0, dtype).element_size();
                var bandwidth = bytes >= 1 << 20 ? $" algbw {bytes / time.TotalSeconds / 1e9:0.00} GB/s" : "";
                var tolerated = tolerance > 0 ? $" (rtol {tolerance:0.0e+00})" : "";
                Line($"ok {what} {Milliseconds(time)}{bandwidth}{tolerated}");
            }
            AfterCheck();
        }

        private static string? Mismatch(Tensor actual, Tensor expected, double tolerance)
        {
            if (actual.numel() == 0) return null;
            var values = actual.reshape(-1);
            var wanted = expected.reshape(-1);
            // Both written so that NaN counts as wrong; exact checks compare in the tensor's own dtype, which holds
            // every expected value exactly (that is what makes them exact), and spare a float64 copy.
            var wrong = tolerance == 0
                ? values.ne(wanted.to(values.dtype))
                : (values.to(ScalarType.Float64) - wanted).abs().le(wanted.abs() * tolerance).logical_not();
            long count = wrong.sum().item<long>();
            if (count == 0) return null;
            long first = wrong.nonzero()[0, 0].item<long>();
            return $"{count} of {values.numel()} elements wrong; first at {first}: got {Format(values[first].to(ScalarType.Float64).item<double>())}, " +
                   $"expected {Format(wanted[first].to(ScalarType.Float64).item<double>())}";
        }

        /// <summary>The exact-integer range of each float dtype (2^(mantissa bits + 1)), and one unit in the last place at 1.</summary>
        private static double Tolerance(ScalarType dtype, double largest, bool average, int groupSize)
        {
            var (limit, epsilon) = dtype switch
            {
                ScalarType.BFloat16 => (256.0, 1.0 / 128),
                ScalarType.Float16 => (2048.0, 1.0 / 1024),
                ScalarType.Float32 => (16777216.0, 1.0 / 8388608),
                ScalarType.Float64 => (9007199254740992.0, 1.0 / 4503599627370496),
                _ => (double.PositiveInfinity, 0.0),
            };
            return largest <= limit && !(average && epsilon > 0) ? 0 : 2 * groupSize * epsilon;
        }

        // Integer averages truncate (positive sums here, so floor), as NCCL's and the TCP backend's do.
        private static Tensor Average(Tensor sum, double size, ScalarType dtype) =>
            torch.is_floating_point(torch.empty(0, dtype)) ? sum / size : (sum / size).floor();

        private Tensor Pattern(long n) => torch.arange(0, n, ScalarType.Float64, _device).remainder(3);

        private Tensor Members(int size) => torch.arange(0, size, ScalarType.Float64, _device);

        private TimeSpan Time(Action collective)
        {
            bool cuda = _device.type == DeviceType.CUDA;
            if (cuda) torch.cuda.synchronize(_device);
            var watch = Stopwatch.StartNew();
            collective();
            if (cuda) torch.cuda.synchronize(_device);
            return watch.Elapsed;
        }

        private bool Wanted(string operation) => _options.Operations.Contains(operation);

        private void AfterCheck()
        {
            if (_options.FailRank != _runtime.Environment.Rank) return;
            Line($"rank {_runtime.Environment.Rank}: exiting now, as --fail-rank asked");
            // No cleanup on purpose: the others must cope with a rank that vanishes, as after a crash.
            System.Environment.Exit(3);
        }

        private void Line(string text)
        {
            _output.WriteLine(text);
            _output.Flush();
        }

        private static string Describe(IProcessGroup group) => Describe(group.Name, group.Ranks);

        private static string Describe(string name, IEnumerable<int> ranks) => $"{name}[{string.Join(",", ranks)}]";

        private static string Name(ReduceOp op) => op.ToString().ToLowerInvariant();

        /// <summary>"float32", "bfloat16", "int64": torch's names.</summary>
        private static string DTypeName(ScalarType dtype) => dtype.ToString().ToLowerInvariant();

        private static string Milliseconds(TimeSpan time) => time.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + " ms";

        private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
    }
}
