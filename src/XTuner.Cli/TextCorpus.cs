using System;
using System.IO;
using System.Linq;
using System.Text;

namespace XTuner.Cli
{
    /// <summary>
    /// Seeded prose as a text JSONL (<c>{"text": "..."}</c> per line) for benchmarks: common English words and made-up
    /// ones of one to four syllables, the first far more often (Zipf-like), in sentences and paragraphs of varied length,
    /// so that a BPE tokenizer meets frequent words and rare ones as in real text.
    /// </summary>
    internal static class TextCorpus
    {
        private const int LexiconSize = 20000;
        private static readonly string[] Common = (
            "the of and to in a is that for it as was with be by on not he this are or his from at which but have an they " +
            "you were her she there been one all we their has would when if so no will more can what its who about out up " +
            "them some could into than then other these time only new two may first also after any like our over such most " +
            "made people many years way even back work well because each those much before through where just between good " +
            "same long state however own world under while last never another part life during high small since great still " +
            "number both system found general water place number model data training sequence memory token length result " +
            "value case order group form point house second without public given set every often power use small early " +
            "government city large water company find day right line end play very school show example take around three " +
            "country help might think course family against within light change study several important").Split(' ').Distinct().ToArray();

        private static readonly string[] Onsets = { "", "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w", "st", "tr", "pl", "gr", "ch", "th", "sh", "br" };
        private static readonly string[] Vowels = { "a", "e", "i", "o", "u", "ea", "ou", "ai", "io" };
        private static readonly string[] Codas = { "", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck" };

        /// <summary>Writes <paramref name="lines"/> lines when given, else lines until the file has <paramref name="bytes"/> bytes.</summary>
        public static void Write(string path, long bytes, int lines = int.MaxValue)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            var random = new SplitMix(20261202);
            var lexicon = new string[LexiconSize];
            for (var i = 0; i < LexiconSize; i++)
            {
                var word = new StringBuilder();
                var syllables = 1 + (int)(random.Next() % 4);
                for (var s = 0; s < syllables; s++)
                    word.Append(Onsets[random.Next() % (ulong)Onsets.Length]).Append(Vowels[random.Next() % (ulong)Vowels.Length])
                        .Append(Codas[random.Next() % (ulong)Codas.Length]);
                lexicon[i] = i < Common.Length ? Common[i] : word.ToString();
            }
            using var writer = new StreamWriter(path, append: false, new UTF8Encoding(false), 1 << 20);
            var line = new StringBuilder();
            long written = 0;
            for (var n = 0; n < lines && (lines < int.MaxValue || written < bytes); n++)
            {
                line.Clear().Append("{\"text\": \"");
                var sentences = 1 + (int)(random.Next() % 30);
                for (var s = 0; s < sentences; s++)
                {
                    var words = 4 + (int)(random.Next() % 22);
                    for (var w = 0; w < words; w++)
                    {
                        // u^3 puts most draws on the first words of the lexicon.
                        var u = (random.Next() >> 11) * (1.0 / (1UL << 53));
                        var word = lexicon[(int)(u * u * u * LexiconSize)];
                        if (w == 0) line.Append(char.ToUpperInvariant(word[0])).Append(word, 1, word.Length - 1);
                        else line.Append(' ').Append(word);
                        if (w < words - 1 && random.Next() % 9 == 0) line.Append(',');
                    }
                    line.Append(s < sentences - 1 ? ". " : ".");
                }
                line.Append("\"}");
                writer.WriteLine(line);
                written += line.Length + 1;
            }
        }

        /// <summary>SplitMix64: the same text on every machine and .NET version.</summary>
        private struct SplitMix
        {
            private ulong _state;

            public SplitMix(ulong seed) => _state = seed;

            public ulong Next()
            {
                var z = _state += 0x9E3779B97F4A7C15UL;
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
                return z ^ (z >> 31);
            }
        }
    }
}
