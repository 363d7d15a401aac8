using System;
using System.Collections.Generic;
using System.Linq;

namespace XTuner.Training.Models.Attention
{
    /// <summary>
    /// The segments of a micro-batch grouped by padded length, so that documents of similar length are attended in one
    /// batched causal SDPA call instead of one call each (a packed 32k sequence of Alpaca-sized documents holds about a
    /// hundred). Lengths round up to a step of 2^(1/4) (a multiple of 16), so padding costs at most ~1.4x the attention
    /// work of a segment; a padded position repeats the segment's last token and, being after every real token, is never
    /// seen by one under causal attention. Segments a sliding window is shorter than are left to the windowed path.
    /// Every index the attention needs is computed once, into one array (<see cref="Indices"/>), so that a layer copies
    /// it to the device in one asynchronous copy: one synchronous copy per bucket and layer stalled the GPU.
    /// </summary>
    public sealed class SegmentBuckets
    {
        private SegmentBuckets(IReadOnlyList<Bucket> buckets, IReadOnlyList<(int Row, int Start, int Length)> windowed, int sequenceLength)
        {
            Buckets = buckets;
            Windowed = windowed;
            var indices = new List<long>();
            foreach (var b in buckets)
            {
                b.GatherAt = indices.Count;
                indices.AddRange(b.Gather(sequenceLength));
                b.RealAt = indices.Count;
                indices.AddRange(b.Real());
            }
            InverseAt = indices.Count;
            var order = Buckets.SelectMany(b => b.Segments).Concat(Windowed)
                .SelectMany(s => Enumerable.Range(s.Start, s.Length).Select(t => (long)s.Row * sequenceLength + t))
                .ToArray();
            var inverse = new long[order.Length];
            for (int i = 0; i < order.Length; i++) inverse[order[i]] = i;
            indices.AddRange(inverse);
            Indices = indices.ToArray();
        }

        /// <summary>One batched call: <see cref="Segments"/> each padded to <see cref="Length"/> tokens.</summary>
        public sealed record Bucket(int Length, IReadOnlyList<(int Row, int Start, int Length)> Segments)
        {
            /// <summary>Where <see cref="Gather"/>'s indices start in <see cref="SegmentBuckets.Indices"/> (Segments x Length of them).</summary>
            public int GatherAt { get; internal set; }

            /// <summary>Where <see cref="Real"/>'s indices start in <see cref="SegmentBuckets.Indices"/> (one per real token).</summary>
            public int RealAt { get; internal set; }

            /// <summary>How many real tokens the bucket holds.</summary>
            public int Tokens => Segments.Sum(s => s.Length);

            /// <summary>For each padded position (segment-major), the flat index (row * sequence length + position) it reads.</summary>
            public long[] Gather(int sequenceLength)
            {
                var index = new long[Segments.Count * (long)Length];
                for (int i = 0; i < Segments.Count; i++)
                {
                    var (row, start, length) = Segments[i];
                    for (int t = 0; t < Length; t++)
                        index[i * (long)Length + t] = (long)row * sequenceLength + start + Math.Min(t, length - 1);
                }
                return index;
            }

            /// <summary>The padded positions (segment-major) that hold real tokens, in segment order.</summary>
            public long[] Real() =>
                Segments.SelectMany((s, i) => Enumerable.Range(0, s.Length).Select(t => i * (long)Length + t)).ToArray();
        }

        public IReadOnlyList<Bucket> Buckets { get; }

        /// <summary>Segments longer than the sliding window: attended one by one in window-sized blocks.</summary>
        public IReadOnlyList<(int Row, int Start, int Length)> Windowed { get; }

        /// <summary>
        /// Every bucket's gather and real-token indices, then the inverse permutation: for each flat position, where its
        /// output is in the concatenation of each bucket's real tokens and then each windowed segment.
        /// </summary>
        public long[] Indices { get; }

        /// <summary>Where the inverse permutation starts in <see cref="Indices"/> (rows x sequence length of it).</summary>
        public int InverseAt { get; }

        public static SegmentBuckets Plan(DocumentLayout? documents, int rows, int sequenceLength, int? window)
        {
            var segments = Enumerable.Range(0, rows).SelectMany(r =>
                (documents?.Segments(r) ?? new[] { (0, sequenceLength) }).Select(s => (Row: r, s.Item1, s.Item2))).ToList();
            var windowed = segments.Where(s => window is int w && w < s.Item3).ToList();
            var buckets = segments.Except(windowed)
                .GroupBy(s => PaddedLength(s.Item3))
                .OrderBy(g => g.Key)
                .Select(g => new Bucket(g.Key, g.ToList()))
                .ToList();
            return new SegmentBuckets(buckets, windowed, sequenceLength);
        }

        /// <summary>The smallest multiple of 16 on the ladder 16 * 2^(k/4) that holds <paramref name="length"/> tokens.</summary>
        public static int PaddedLength(int length)
        {
            if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), "A segment holds at least one token.");
            for (int k = 0; ; k++)
            {
                var step = (int)Math.Ceiling(Math.Pow(2, k / 4.0)) * 16;
                if (step >= length) return step;
            }
        }
    }
}
