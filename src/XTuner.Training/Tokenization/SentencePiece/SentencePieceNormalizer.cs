using System.Text;

namespace XTuner.Training.Tokenization.SentencePiece
{
    /// <summary>
    /// sentencepiece's whitespace handling for identity-normalized models: optional removal of leading, trailing and
    /// repeated spaces, spaces written as U+2581, and the dummy "▁" prefix.
    /// </summary>
    internal sealed class SentencePieceNormalizer
    {
        public const char SpaceSymbol = '\u2581';

        private readonly bool _addDummyPrefix;
        private readonly bool _removeExtraWhitespaces;
        private readonly char _space;

        public SentencePieceNormalizer(bool addDummyPrefix, bool removeExtraWhitespaces, bool escapeWhitespaces)
        {
            _addDummyPrefix = addDummyPrefix;
            _removeExtraWhitespaces = removeExtraWhitespaces;
            _space = escapeWhitespaces ? SpaceSymbol : ' ';
        }

        public bool AddsDummyPrefix => _addDummyPrefix;

        public string Normalize(string text)
        {
            var start = 0;
            if (_removeExtraWhitespaces)
                while (start < text.Length && text[start] == ' ')
                    start++;
            if (start == text.Length)
                return "";

            var output = new StringBuilder(text.Length + 1);
            if (_addDummyPrefix)
                output.Append(_space);
            // Only U+0020 counts as a space here; tabs and newlines are ordinary characters to sentencepiece.
            var previousSpace = _removeExtraWhitespaces;
            for (var i = start; i < text.Length; i++)
            {
                var c = text[i];
                if (c == ' ')
                {
                    if (!(previousSpace && _removeExtraWhitespaces))
                        output.Append(_space);
                    previousSpace = true;
                }
                else
                {
                    output.Append(c);
                    previousSpace = false;
                }
            }
            if (_removeExtraWhitespaces)
                while (output.Length > 0 && output[output.Length - 1] == _space)
                    output.Length--;
            return output.ToString();
        }
    }
}
