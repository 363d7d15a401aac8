using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using TorchSharp.Modules;

namespace XTuner.Training.Zero
{
    /// <summary>One parameter's place in its unit's flat buffer.</summary>
    public sealed class ParameterSlot
    {
        public ParameterSlot(string name, long[] shape, long offset, bool noDecay)
        {
            Name = name;
            Shape = shape;
            Offset = offset;
            Numel = shape.Aggregate(1L, (a, b) => a * b);
            NoDecay = noDecay;
        }

        /// <summary>The Hugging Face name (state_dict key).</summary>
        public string Name { get; }

        public long[] Shape { get; }

        /// <summary>Start within the unit's flat buffer.</summary>
        public long Offset { get; }

        public long Numel { get; }

        /// <summary>Norms and biases take no weight decay.</summary>
        public bool NoDecay { get; }

        /// <summary>The live parameter (rebound when the model changes dtype).</summary>
        public Parameter? Parameter { get; set; }
    }

    /// <summary>
    /// Parameters communicated and updated together: one decoder layer, the embeddings, or the final norm and head.
    /// Their values are laid end to end in a flat buffer padded to a multiple of the shard count; under ZeRO each rank
    /// owns the contiguous range [<see cref="ShardOffset"/>, +<see cref="ShardLength"/>).
    /// </summary>
    public sealed class ParameterUnit
    {
        private static readonly Regex LayerName = new Regex(@"\blayers\.(\d+)\.", RegexOptions.Compiled);

        public ParameterUnit(string name, IReadOnlyList<ParameterSlot> slots, int shards, int shardIndex)
        {
            Name = name;
            Slots = slots;
            Numel = slots.Sum(s => s.Numel);
            PaddedNumel = (Numel + shards - 1) / shards * shards;
            ShardLength = PaddedNumel / shards;
            ShardOffset = ShardLength * shardIndex;
        }

        public string Name { get; }

        public IReadOnlyList<ParameterSlot> Slots { get; }

        public long Numel { get; }

        public long PaddedNumel { get; }

        public long ShardOffset { get; }

        public long ShardLength { get; }

        /// <summary>
        /// Points every parameter of the unit at its part of <paramref name="whole"/> (a flat [PaddedNumel] tensor), which
        /// then holds their values and owns their memory. The views it makes are disposed here: left to the caller's
        /// dispose scope they would keep <paramref name="whole"/> alive until that scope ends (a whole forward, for a
        /// layer's parameters), and left to the finalizer until a garbage collection.
        /// </summary>
        public void PointAt(TorchSharp.torch.Tensor whole)
        {
            using var noGrad = TorchSharp.torch.no_grad();
            using var scope = TorchSharp.torch.NewDisposeScope();
            foreach (var slot in Slots)
                slot.Parameter!.set_(whole.narrow(0, slot.Offset, slot.Numel).view(slot.Shape));
        }

        /// <summary>Points every parameter of the unit at <paramref name="released"/> (an empty tensor): they hold no memory until the next <see cref="PointAt"/>.</summary>
        public void Release(TorchSharp.torch.Tensor released)
        {
            using var noGrad = TorchSharp.torch.no_grad();
            using var scope = TorchSharp.torch.NewDisposeScope();
            foreach (var slot in Slots) slot.Parameter!.set_(released);
        }

        /// <summary>A decoder layer's unit (named <c>layers.N</c>), as opposed to the embeddings' or the final norm and head's.</summary>
        public bool IsLayer => Name.StartsWith("layers.", StringComparison.Ordinal);

        /// <summary>For each decoder layer, the index of its unit in <paramref name="units"/>.</summary>
        public static int[] LayerUnits(IReadOnlyList<ParameterUnit> units)
        {
            var layers = units.Select((u, i) => (u, i)).Where(x => x.u.IsLayer).ToList();
            var result = new int[layers.Count];
            foreach (var (u, i) in layers) result[int.Parse(u.Name.Substring("layers.".Length), System.Globalization.CultureInfo.InvariantCulture)] = i;
            return result;
        }

        /// <summary>
        /// Splits named parameters into units (embeddings, each layer, the rest) in name order within a unit, the same on
        /// every rank.
        /// </summary>
        public static List<ParameterUnit> Partition(IEnumerable<(string Name, long[] Shape)> parameters, Func<string, bool> noDecay, int shards, int shardIndex)
        {
            var groups = new SortedDictionary<(int Order, int Layer), List<(string Name, long[] Shape)>>();
            foreach (var p in parameters)
            {
                var m = LayerName.Match(p.Name);
                var key = m.Success ? (1, int.Parse(m.Groups[1].Value)) : IsEmbedding(p.Name) ? (0, 0) : (2, 0);
                if (!groups.TryGetValue(key, out var list)) groups[key] = list = new List<(string, long[])>();
                list.Add(p);
            }
            var units = new List<ParameterUnit>();
            foreach (var pair in groups)
            {
                long offset = 0;
                var slots = new List<ParameterSlot>();
                foreach (var p in pair.Value)
                {
                    slots.Add(new ParameterSlot(p.Name, p.Shape, offset, noDecay(p.Name)));
                    offset += slots[slots.Count - 1].Numel;
                }
                var name = pair.Key.Order == 0 ? "embed" : pair.Key.Order == 1 ? $"layers.{pair.Key.Layer}" : "head";
                units.Add(new ParameterUnit(name, slots, shards, shardIndex));
            }
            return units;
        }

        private static bool IsEmbedding(string name) =>
            name.Contains("embed_tokens") || name.Contains("tok_embeddings");

        /// <summary>The part of a slot inside this rank's shard, as (offset in the slot, offset in the shard, length).</summary>
        public IEnumerable<(ParameterSlot Slot, long SlotStart, long ShardStart, long Length)> SlotsInShard()
        {
            long end = ShardOffset + ShardLength;
            foreach (var s in Slots)
            {
                long from = Math.Max(s.Offset, ShardOffset), to = Math.Min(s.Offset + s.Numel, end);
                if (to > from) yield return (s, from - s.Offset, from - ShardOffset, to - from);
            }
        }
    }
}
