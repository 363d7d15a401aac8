using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using XTuner.Core.Configuration;
using XTuner.Training.Data;
using XTuner.Training.Tokenization;

namespace XTuner.Training.Tests.Data
{
    /// <summary>Builds small datasets from JSONL lines written to a temp folder.</summary>
    internal static class DataFiles
    {
        public static XTunerConfig Config(DatasetFormat format, int maxLength = 64, bool pack = false, string? template = null) => new XTunerConfig
        {
            DatasetFormat = format,
            MaxLength = maxLength,
            PackToMaxLength = pack,
            PromptTemplate = template,
        };

        /// <summary>Writes the lines as data.jsonl in <paramref name="folder"/>, points the config at it, and builds.</summary>
        public static IReadOnlyList<PackedSequence> Build(string folder, XTunerConfig config, ITextTokenizer? tokenizer, out DatasetStats stats, params string[] lines)
        {
            File.WriteAllLines(Path.Combine(folder, "data.jsonl"), lines);
            config.DataFiles = new List<string> { "data.jsonl" };
            return DatasetBuilder.Build(config, tokenizer, folder, out stats);
        }

        public static IReadOnlyList<PackedSequence> Build(string folder, XTunerConfig config, ITextTokenizer? tokenizer, params string[] lines) =>
            Build(folder, config, tokenizer, out _, lines);

        /// <summary>UTF-8 bytes as byte-tokenizer ids.</summary>
        public static int[] Bytes(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();

        /// <summary>-100 for each of <paramref name="count"/> masked positions.</summary>
        public static int[] Masked(int count) => Enumerable.Repeat(TokenizedSample.IgnoreIndex, count).ToArray();
    }
}
