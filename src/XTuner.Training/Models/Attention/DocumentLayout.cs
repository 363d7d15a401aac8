using System;
using System.Collections.Generic;
using System.Linq;

namespace XTuner.Training.Models.Attention
{
    /// <summary>
    /// Where each document of every sequence of a micro-batch starts, in whole-sequence positions (before any
    /// sequence-parallel split, so every rank of an SP group holds the same layout): attention stays inside a document.
    /// Padding after the last document is a segment of its own, whose outputs nothing reads.
    /// </summary>
    public sealed class DocumentLayout
    {
        private readonly int[][] _starts;
        private readonly Dictionary<int, SegmentBuckets> _buckets = new Dictionary<int, SegmentBuckets>();

        /// <param name="starts">Per row, the ascending start of each segment; the first is 0.</param>
        /// <param name="length">The whole (padded) sequence length of every row.</param>
        public DocumentLayout(IReadOnlyList<int[]> starts, int length)
        {
            if (starts.Any(r => r.Length == 0 || r[0] != 0 || r.Zip(r.Skip(1), (a, b) => b <= a).Any(x => x) || r[^1] >= length))
                throw new ArgumentException("Each row's segment starts must begin at 0, ascend, and lie inside the sequence.", nameof(starts));
            _starts = starts.ToArray();
            Length = length;
        }

        public int Rows => _starts.Length;

        public int Length { get; }

        /// <summary>Every row is one segment: plain causal attention is the same thing.</summary>
        public bool IsSingleSegment => _starts.All(r => r.Length == 1);

        /// <summary>
        /// The segments batched for attention under <paramref name="window"/> (null: none), computed once per window:
        /// every layer of a forward, its recompute and backward use the same plan.
        /// </summary>
        public SegmentBuckets Buckets(int? window)
        {
            lock (_buckets)
            {
                var key = window ?? -1;
                if (!_buckets.TryGetValue(key, out var plan))
                    _buckets[key] = plan = SegmentBuckets.Plan(this, Rows, Length, window);
                return plan;
            }
        }

        /// <summary>Row <paramref name="row"/>'s segments as (start, length).</summary>
        public IEnumerable<(int Start, int Length)> Segments(int row)
        {
            var s = _starts[row];
            for (int i = 0; i < s.Length; i++)
                yield return (s[i], (i + 1 < s.Length ? s[i + 1] : Length) - s[i]);
        }
    }
}
