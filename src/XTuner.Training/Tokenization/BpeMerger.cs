using System.Collections.Generic;

namespace XTuner.Training.Tokenization
{
    /// <summary>
    /// Byte-pair merging as both Hugging Face <c>tokenizers</c> and <c>sentencepiece</c> do it: repeatedly merge the
    /// adjacent pair with the best priority, the leftmost on ties. A heap keeps whole-document words (SentencePiece-style
    /// tokenizers do not pre-split text) at n log n.
    /// </summary>
    internal static class BpeMerger
    {
        private readonly record struct Candidate(int Left, int Right, int LeftLength, int RightLength, int MergedId);

        /// <summary>Merges the first <paramref name="count"/> linked symbols in place; the first symbol always survives.</summary>
        public static void MergeAll<TRule>(BpeSymbol[] symbols, int count, TRule rule) where TRule : IBpeMergeRule
        {
            var queue = new PriorityQueue<Candidate, (double, int)>();
            for (var i = 0; i + 1 < count; i++)
                Enqueue(symbols, i, i + 1, rule, queue);

            while (queue.TryDequeue(out var c, out _))
            {
                ref var left = ref symbols[c.Left];
                ref var right = ref symbols[c.Right];
                // Entries go stale when either side has merged since they were queued.
                if (left.Length != c.LeftLength || right.Length != c.RightLength || left.Next != c.Right)
                    continue;

                left.Id = c.MergedId;
                left.Length += right.Length;
                left.Next = right.Next;
                if (right.Next >= 0)
                    symbols[right.Next].Prev = c.Left;
                right.Length = 0;

                if (left.Prev >= 0)
                    Enqueue(symbols, left.Prev, c.Left, rule, queue);
                if (left.Next >= 0)
                    Enqueue(symbols, c.Left, left.Next, rule, queue);
            }
        }

        /// <summary>Prepares <paramref name="count"/> unmerged symbols linked in order.</summary>
        public static void Link(BpeSymbol[] symbols, int count)
        {
            for (var i = 0; i < count; i++)
            {
                symbols[i].Prev = i - 1;
                symbols[i].Next = i + 1 < count ? i + 1 : -1;
            }
        }

        private static void Enqueue<TRule>(BpeSymbol[] symbols, int left, int right, TRule rule,
            PriorityQueue<Candidate, (double, int)> queue) where TRule : IBpeMergeRule
        {
            if (rule.TryMerge(symbols[left], symbols[right], out var priority, out var mergedId))
                queue.Enqueue(new Candidate(left, right, symbols[left].Length, symbols[right].Length, mergedId), (priority, left));
        }
    }
}
