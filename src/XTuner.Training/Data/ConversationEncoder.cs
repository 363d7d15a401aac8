using System.Collections.Generic;
using XTuner.Training.Tokenization;

namespace XTuner.Training.Data
{
    /// <summary>
    /// Turns conversations into ids and labels as XTuner's <c>encode_fn</c> does: each prompt, reply and separator is
    /// tokenized on its own (so SentencePiece tokenizers give each its leading "▁"), prompts and separators are masked,
    /// replies and their end token are learned.
    /// </summary>
    public sealed class ConversationEncoder
    {
        private readonly PromptTemplate _template;
        private readonly ITextTokenizer _tokenizer;

        public ConversationEncoder(PromptTemplate template, ITextTokenizer tokenizer)
        {
            _template = template;
            _tokenizer = tokenizer;
        }

        public TokenizedSample Encode(IReadOnlyList<ConversationTurn> turns)
        {
            var ids = new List<int>();
            var labels = new List<int>();
            var bos = _template.Bos == BosPlacement.None ? null : _tokenizer.BosTokenId;
            var needsBos = true;
            for (var i = 0; i < turns.Count; i++)
            {
                var turn = turns[i];
                if (needsBos && bos is int b)
                    Add(ids, labels, new[] { b }, learn: false);
                Add(ids, labels, _tokenizer.Encode(_template.RenderPrompt(turn.System, turn.Input)), learn: false);

                var reply = turn.Output.Length > 0 ? turn.Output + _template.Suffix : "";
                Add(ids, labels, _tokenizer.Encode(reply), turn.Learn);
                needsBos = false;
                if (!_template.SuffixAsEos && _tokenizer.EosTokenId is int eos)
                {
                    Add(ids, labels, new[] { eos }, turn.Learn);
                    needsBos = _template.Bos == BosPlacement.EveryTurn;
                }
                if (_template.Separator.Length > 0 && i < turns.Count - 1)
                    Add(ids, labels, _tokenizer.Encode(_template.Separator), learn: false);
            }
            return new TokenizedSample(ids.ToArray(), labels.ToArray());
        }

        private static void Add(List<int> ids, List<int> labels, IReadOnlyList<int> tokens, bool learn)
        {
            ids.AddRange(tokens);
            if (learn)
                labels.AddRange(tokens);
            else
                for (var i = 0; i < tokens.Count; i++)
                    labels.Add(TokenizedSample.IgnoreIndex);
        }
    }
}
