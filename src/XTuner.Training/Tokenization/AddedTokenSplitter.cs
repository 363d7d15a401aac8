using System.Collections.Generic;
using System.Linq;

namespace XTuner.Training.Tokenization
{
    /// <summary>Cuts added tokens out of text, leftmost match first and the longest token where several start there.</summary>
    internal sealed class AddedTokenSplitter
    {
        private readonly Dictionary<char, AddedToken[]> _byFirstChar;

        public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
        {
            _byFirstChar = tokens
                .Where(t => t.Content.Length > 0)
                .GroupBy(t => t.Content[0])
                .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        }

        /// <summary>Plain text and token segments in input order; empty plain segments are left out.</summary>
        public List<TextSegment> Split(string text)
        {
            var segments = new List<TextSegment>();
            var plainStart = 0;
            var i = 0;
            while (i < text.Length)
            {
                var match = MatchAt(text, i);
                if (match is null)
                {
                    i++;
                    continue;
                }
                var plainEnd = i;
                if (match.LeftStrip)
                    while (plainEnd > plainStart && char.IsWhiteSpace(text[plainEnd - 1]))
                        plainEnd--;
                if (plainEnd > plainStart)
                    segments.Add(TextSegment.Plain(text.Substring(plainStart, plainEnd - plainStart), plainStart));
                segments.Add(TextSegment.Token(match.Id, i));
                i += match.Content.Length;
                if (match.RightStrip)
                    while (i < text.Length && char.IsWhiteSpace(text[i]))
                        i++;
                plainStart = i;
            }
            if (plainStart < text.Length)
                segments.Add(TextSegment.Plain(text.Substring(plainStart), plainStart));
            return segments;
        }

        private AddedToken? MatchAt(string text, int index)
        {
            if (!_byFirstChar.TryGetValue(text[index], out var candidates))
                return null;
            foreach (var token in candidates)
            {
                if (index + token.Content.Length > text.Length ||
                    string.CompareOrdinal(text, index, token.Content, 0, token.Content.Length) != 0)
                    continue;
                if (token.SingleWord && !StandsAlone(text, index, index + token.Content.Length))
                    continue;
                return token;
            }
            return null;
        }

        private static bool StandsAlone(string text, int start, int end) =>
            (start == 0 || !IsWordChar(text[start - 1])) && (end == text.Length || !IsWordChar(text[end]));

        private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
    }
}
