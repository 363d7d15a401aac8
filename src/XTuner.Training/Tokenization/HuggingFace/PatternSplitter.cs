using System.Collections.Generic;
using System.Text.RegularExpressions;

namespace XTuner.Training.Tokenization.HuggingFace
{
    /// <summary>Splits text around pattern matches exactly as tokenizers' <c>NormalizedString::split</c> does.</summary>
    internal sealed class PatternSplitter
    {
        private readonly Regex _pattern;
        private readonly SplitBehavior _behavior;
        private readonly bool _invert;

        public PatternSplitter(Regex pattern, SplitBehavior behavior, bool invert = false)
        {
            _pattern = pattern;
            _behavior = behavior;
            _invert = invert;
        }

        public void Split(PreToken piece, List<PreToken> output)
        {
            var text = piece.Text;
            foreach (var (start, end) in Spans(text))
                if (end > start)
                    output.Add(new PreToken(text.Substring(start, end - start), piece.AtInputStart && start == 0));
        }

        private List<(int Start, int End)> Spans(string text)
        {
            // Matched and unmatched stretches covering the text, then folded by the behaviour.
            var marks = new List<(int Start, int End, bool IsMatch)>();
            var previous = 0;
            for (var m = _pattern.Match(text); m.Success; m = m.NextMatch())
            {
                if (m.Length == 0)
                    continue;
                if (m.Index != previous)
                    marks.Add((previous, m.Index, _invert));
                marks.Add((m.Index, m.Index + m.Length, !_invert));
                previous = m.Index + m.Length;
            }
            if (previous != text.Length)
                marks.Add((previous, text.Length, _invert));

            var spans = new List<(int Start, int End)>(marks.Count);
            switch (_behavior)
            {
                case SplitBehavior.Isolated:
                    foreach (var (s, e, _) in marks)
                        spans.Add((s, e));
                    break;
                case SplitBehavior.Removed:
                    foreach (var (s, e, isMatch) in marks)
                        if (!isMatch)
                            spans.Add((s, e));
                    break;
                case SplitBehavior.Contiguous:
                {
                    var previousMatch = false;
                    foreach (var (s, e, isMatch) in marks)
                    {
                        if (isMatch == previousMatch && spans.Count > 0)
                            spans[spans.Count - 1] = (spans[spans.Count - 1].Start, e);
                        else
                            spans.Add((s, e));
                        previousMatch = isMatch;
                    }
                    break;
                }
                case SplitBehavior.MergedWithPrevious:
                {
                    var previousMatch = false;
                    foreach (var (s, e, isMatch) in marks)
                    {
                        if (isMatch && !previousMatch && spans.Count > 0)
                            spans[spans.Count - 1] = (spans[spans.Count - 1].Start, e);
                        else
                            spans.Add((s, e));
                        previousMatch = isMatch;
                    }
                    break;
                }
                case SplitBehavior.MergedWithNext:
                {
                    var nextMatch = false;
                    for (var i = marks.Count - 1; i >= 0; i--)
                    {
                        var (s, e, isMatch) = marks[i];
                        if (isMatch && !nextMatch && spans.Count > 0)
                            spans[spans.Count - 1] = (s, spans[spans.Count - 1].End);
                        else
                            spans.Add((s, e));
                        nextMatch = isMatch;
                    }
                    spans.Reverse();
                    break;
                }
            }
            return spans;
        }
    }
}
