using System;
using System.Collections;
using System.Collections.Generic;
using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// TorchSharp 0.107 keeps an <c>empty_like</c> copy of every output of a custom autograd Function until the node is
    /// freed, only to make zeros should the output's gradient be undefined. For a checkpointed layer that is a second
    /// activation-sized tensor per layer held for the whole forward and backward (8 GB for Llama2-7B at 32k tokens).
    /// Our Functions' outputs always receive a gradient, so right after applying one we release those placeholders.
    /// </summary>
    internal static class AutogradOutputCache
    {
        private static readonly FieldInfo? AliveNodes =
            typeof(torch.autograd).GetNestedType("Node", BindingFlags.NonPublic)?.GetField("AliveNodes", BindingFlags.NonPublic | BindingFlags.Static);

        /// <summary>Whether this TorchSharp build exposes what <see cref="Release{T}"/> needs (a test watches it).</summary>
        internal static bool Supported => AliveNodes != null;

        /// <summary>Frees the output placeholders of the newest node of Function <typeparamref name="T"/>.</summary>
        public static void Release<T>() where T : autograd.Function<T>, new()
        {
            if (AliveNodes?.GetValue(null) is not IList nodes) return;
            lock (nodes)
            {
                for (int i = nodes.Count - 1; i >= 0; i--)
                {
                    var node = nodes[i];
                    var type = node?.GetType();
                    if (type == null || !type.IsGenericType || type.GetGenericArguments()[0] != typeof(T)) continue;
                    if (type.GetField("_outputCache", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(node) is List<Tensor> cache)
                    {
                        for (int k = 0; k < cache.Count; k++)
                        {
                            cache[k]?.Dispose();
                            cache[k] = null!;
                        }
                    }
                    return;
                }
            }
        }

        /// <summary>The placeholders the newest node of <typeparamref name="T"/> still holds (tests).</summary>
        internal static int Held<T>() where T : autograd.Function<T>, new()
        {
            if (AliveNodes?.GetValue(null) is not IList nodes) return -1;
            lock (nodes)
            {
                for (int i = nodes.Count - 1; i >= 0; i--)
                {
                    var type = nodes[i]?.GetType();
                    if (type == null || !type.IsGenericType || type.GetGenericArguments()[0] != typeof(T)) continue;
                    var cache = (List<Tensor>?)type.GetField("_outputCache", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(nodes[i]);
                    return cache == null ? 0 : cache.FindAll(t => t is not null).Count;
                }
            }
            return -1;
        }
    }
}
