using System.Collections.Generic;

namespace XTuner.Training.Tokenization
{
    /// <summary>
    /// GPT-2's reversible byte-to-character table: printable Latin-1 bytes map to themselves and the other bytes to
    /// characters from U+0100 on, so that byte-level BPE vocabularies are readable strings without whitespace or controls.
    /// </summary>
    internal static class ByteLevelAlphabet
    {
        /// <summary>The character standing for each byte.</summary>
        public static readonly char[] ByteToChar = Build();

        /// <summary>The byte each alphabet character stands for.</summary>
        public static readonly IReadOnlyDictionary<char, byte> CharToByte = Invert(ByteToChar);

        private static char[] Build()
        {
            var map = new char[256];
            var next = 256;
            for (var b = 0; b < 256; b++)
            {
                var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
                map[b] = printable ? (char)b : (char)next++;
            }
            return map;
        }

        private static Dictionary<char, byte> Invert(char[] map)
        {
            var inverse = new Dictionary<char, byte>(256);
            for (var b = 0; b < 256; b++)
                inverse[map[b]] = (byte)b;
            return inverse;
        }

        /// <summary>The alphabet string of the UTF-8 bytes of <paramref name="text"/>.</summary>
        public static string Encode(string text)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(text);
            var chars = new char[bytes.Length];
            for (var i = 0; i < bytes.Length; i++)
                chars[i] = ByteToChar[bytes[i]];
            return new string(chars);
        }
    }
}
