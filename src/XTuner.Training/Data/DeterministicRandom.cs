namespace XTuner.Training.Data
{
    /// <summary>
    /// SplitMix64: a small generator whose output depends only on its seed, so every rank and every .NET version draws
    /// the same permutations and synthetic tokens (System.Random promises neither).
    /// </summary>
    internal struct DeterministicRandom
    {
        private ulong _state;

        public DeterministicRandom(int seed, long stream, ulong purpose)
        {
            _state = Finalize(Finalize(((ulong)(uint)seed << 32) ^ purpose) ^ (ulong)stream);
        }

        public ulong NextUInt64()
        {
            _state += 0x9E3779B97F4A7C15UL;
            return Finalize(_state);
        }

        /// <summary>Uniform in [0, <paramref name="bound"/>), without modulo bias.</summary>
        public int NextBelow(int bound)
        {
            var n = (ulong)bound;
            var threshold = (0UL - n) % n;
            while (true)
            {
                var r = NextUInt64();
                if (r >= threshold)
                    return (int)(r % n);
            }
        }

        private static ulong Finalize(ulong z)
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
