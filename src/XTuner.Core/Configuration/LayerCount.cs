using System;
using System.Globalization;

namespace XTuner.Core.Configuration
{
    /// <summary>
    /// How many decoder layers a per-layer option covers: none (<c>false</c>), all (<c>true</c>), the first N, or
    /// <c>auto</c> (as many as the program works out will fit).
    /// </summary>
    public readonly struct LayerCount : IEquatable<LayerCount>
    {
        private enum Kind { None, All, Count, Auto }

        private readonly Kind _kind;
        private readonly int _count;

        private LayerCount(Kind kind, int count)
        {
            _kind = kind;
            _count = count;
        }

        public static LayerCount None => default;

        public static LayerCount All => new LayerCount(Kind.All, 0);

        public static LayerCount Auto => new LayerCount(Kind.Auto, 0);

        public static LayerCount Of(int layers) =>
            layers >= 0 ? new LayerCount(Kind.Count, layers) : throw new ArgumentOutOfRangeException(nameof(layers), layers, "A layer count is 0 or more.");

        /// <summary><c>true</c> covers every layer, <c>false</c> none (as a YAML or PowerShell boolean sets it).</summary>
        public static implicit operator LayerCount(bool all) => all ? All : None;

        public bool IsAuto => _kind == Kind.Auto;

        /// <summary>Covers every layer, whatever their number (<c>true</c>).</summary>
        public bool IsAll => _kind == Kind.All;

        /// <summary>Covers at least one layer, or may (auto).</summary>
        public bool IsAny => _kind == Kind.All || _kind == Kind.Auto || (_kind == Kind.Count && _count > 0);

        /// <summary>The layers covered of a model with <paramref name="layers"/> (auto must be resolved by the caller).</summary>
        public int Of(int layers, int auto) => _kind switch
        {
            Kind.All => layers,
            Kind.Count => Math.Min(_count, layers),
            Kind.Auto => Math.Max(0, Math.Min(auto, layers)),
            _ => 0,
        };

        /// <summary>Parses true, false (and yes/no/on/off), auto, or a whole number of layers.</summary>
        public static bool TryParse(string text, out LayerCount value)
        {
            var t = text.Trim().ToLowerInvariant();
            value = t switch
            {
                "true" or "yes" or "on" => All,
                "false" or "no" or "off" => None,
                "auto" => Auto,
                _ => int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0 ? Of(n) : new LayerCount((Kind)(-1), 0),
            };
            return (int)value._kind >= 0;
        }

        public bool Equals(LayerCount other) => _kind == other._kind && _count == other._count;

        public override bool Equals(object? obj) => obj is LayerCount other && Equals(other);

        public override int GetHashCode() => ((int)_kind * 397) ^ _count;

        public override string ToString() => _kind switch
        {
            Kind.All => "true",
            Kind.Auto => "auto",
            Kind.Count => _count.ToString(CultureInfo.InvariantCulture),
            _ => "false",
        };
    }
}
