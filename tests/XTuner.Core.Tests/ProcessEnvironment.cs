using System;
using System.Collections.Generic;
using Xunit;

namespace XTuner.Core.Tests
{
    /// <summary>
    /// Tests that change this process's environment (PATH, XTUNER_*): they run alone, since every other test's child
    /// processes would see the change.
    /// </summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class ProcessEnvironment
    {
        public const string Name = "Process environment";

        /// <summary>Sets the variables (null removes one) until disposed, then puts the old values back.</summary>
        public static IDisposable Set(IReadOnlyDictionary<string, string?> variables)
        {
            var saved = new Dictionary<string, string?>();
            foreach (var pair in variables)
            {
                saved[pair.Key] = Environment.GetEnvironmentVariable(pair.Key);
                Environment.SetEnvironmentVariable(pair.Key, pair.Value);
            }
            return new Restore(saved);
        }

        private sealed class Restore : IDisposable
        {
            private readonly Dictionary<string, string?> _saved;

            public Restore(Dictionary<string, string?> saved) => _saved = saved;

            public void Dispose()
            {
                foreach (var pair in _saved) Environment.SetEnvironmentVariable(pair.Key, pair.Value);
            }
        }
    }
}
