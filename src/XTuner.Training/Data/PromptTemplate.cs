using System.Text;

namespace XTuner.Training.Data
{
    /// <summary>
    /// How a conversation turn becomes text, in XTuner's terms: the prompt (with the system block in place of
    /// <c>{system}</c> and the user text in place of <c>{input}</c>) is masked; the reply plus <see cref="Suffix"/> is
    /// learned, then eos (also learned) unless the suffix is the end token itself; <see cref="Separator"/> follows every
    /// turn but the last, masked.
    /// </summary>
    public sealed record PromptTemplate(
        string Name,
        string System,
        string Prompt,
        string Suffix,
        bool SuffixAsEos,
        string Separator,
        BosPlacement Bos)
    {
        /// <summary>The masked text before a reply.</summary>
        public string RenderPrompt(string? system, string input)
        {
            var systemBlock = string.IsNullOrEmpty(system) ? "" : Fill(System, system!, "");
            return Fill(Prompt, systemBlock, input);
        }

        // One pass, so that braces inside the texts are never taken for placeholders.
        private static string Fill(string format, string system, string input)
        {
            var output = new StringBuilder(format.Length + system.Length + input.Length);
            for (var i = 0; i < format.Length;)
            {
                if (string.CompareOrdinal(format, i, "{system}", 0, 8) == 0)
                {
                    output.Append(system);
                    i += 8;
                }
                else if (string.CompareOrdinal(format, i, "{input}", 0, 7) == 0)
                {
                    output.Append(input);
                    i += 7;
                }
                else
                    output.Append(format[i++]);
            }
            return output.ToString();
        }
    }
}
