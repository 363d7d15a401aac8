using System;
using System.Collections.Generic;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Models
{
    /// <summary>
    /// Llama tensors renamed and repacked the way InternLM2 checkpoints store them (wqkv rows grouped per key/value
    /// head: the group's query heads, then its key, then its value), and back.
    /// </summary>
    internal sealed class InternLM2Layout
    {
        private static readonly (string Llama, string InternLM2)[] Renames =
        {
            ("model.embed_tokens.weight", "model.tok_embeddings.weight"),
            ("lm_head.weight", "output.weight"),
            (".input_layernorm.", ".attention_norm."),
            (".post_attention_layernorm.", ".ffn_norm."),
            (".mlp.gate_proj.", ".feed_forward.w1."),
            (".mlp.up_proj.", ".feed_forward.w3."),
            (".mlp.down_proj.", ".feed_forward.w2."),
            (".self_attn.o_proj.", ".attention.wo."),
        };

        private readonly long _keyValueHeads;
        private readonly long _group;
        private readonly long _headDim;

        public InternLM2Layout(long heads, long keyValueHeads, long headDim)
        {
            _keyValueHeads = keyValueHeads;
            _group = heads / keyValueHeads;
            _headDim = headDim;
        }

        public Dictionary<string, Tensor> Pack(IReadOnlyDictionary<string, Tensor> llama)
        {
            var result = new Dictionary<string, Tensor>();
            foreach (var (name, tensor) in llama)
            {
                var match = Regex.Match(name, @"^(model\.layers\.\d+)\.self_attn\.q_proj\.weight$");
                if (match.Success)
                {
                    var prefix = match.Groups[1].Value;
                    var hidden = tensor.shape[1];
                    var q = tensor.reshape(_keyValueHeads, _group, _headDim, hidden);
                    var k = llama[prefix + ".self_attn.k_proj.weight"].reshape(_keyValueHeads, 1, _headDim, hidden);
                    var v = llama[prefix + ".self_attn.v_proj.weight"].reshape(_keyValueHeads, 1, _headDim, hidden);
                    result[prefix + ".attention.wqkv.weight"] = cat(new[] { q, k, v }, 1).reshape(-1, hidden);
                }
                else if (!name.Contains(".self_attn.k_proj.") && !name.Contains(".self_attn.v_proj."))
                {
                    result[Rename(name, toInternLM2: true)] = tensor;
                }
            }
            return result;
        }

        public Dictionary<string, Tensor> Unpack(IReadOnlyDictionary<string, Tensor> internLM2)
        {
            var result = new Dictionary<string, Tensor>();
            foreach (var (name, tensor) in internLM2)
            {
                var match = Regex.Match(name, @"^(model\.layers\.\d+)\.attention\.wqkv\.weight$");
                if (!match.Success)
                {
                    result[Rename(name, toInternLM2: false)] = tensor;
                    continue;
                }
                var prefix = match.Groups[1].Value + ".self_attn.";
                var hidden = tensor.shape[1];
                var packed = tensor.reshape(_keyValueHeads, _group + 2, _headDim, hidden);
                result[prefix + "q_proj.weight"] = packed.narrow(1, 0, _group).reshape(-1, hidden);
                result[prefix + "k_proj.weight"] = packed.select(1, _group).reshape(-1, hidden);
                result[prefix + "v_proj.weight"] = packed.select(1, _group + 1).reshape(-1, hidden);
            }
            return result;
        }

        private static string Rename(string name, bool toInternLM2)
        {
            foreach (var (llama, internLM2) in Renames)
            {
                var (from, to) = toInternLM2 ? (llama, internLM2) : (internLM2, llama);
                if (name.Contains(from, StringComparison.Ordinal))
                    return name.Replace(from, to, StringComparison.Ordinal);
            }
            return name;
        }
    }
}
