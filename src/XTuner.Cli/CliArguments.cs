using System;
using System.Collections.Generic;
using System.Linq;

namespace XTuner.Cli
{
    /// <summary>One option a command accepts.</summary>
    public sealed class CliOption
    {
        public CliOption(string name, string help, string? valueName = null, string? shortName = null, bool many = false, bool optionalValue = false)
        {
            Name = name;
            Help = help;
            ValueName = valueName;
            ShortName = shortName;
            Many = many;
            OptionalValue = optionalValue;
        }

        /// <summary>Long form, e.g. <c>--work-dir</c>.</summary>
        public string Name { get; }

        /// <summary>Short form, e.g. <c>-p</c>.</summary>
        public string? ShortName { get; }

        public string Help { get; }

        /// <summary>Null for a flag; else the placeholder shown in usage.</summary>
        public string? ValueName { get; }

        /// <summary>Takes every following token up to the next option (<c>--cfg-options a=1 b=2</c>).</summary>
        public bool Many { get; }

        /// <summary>The value may be left out (<c>--resume</c> or <c>--resume PATH</c>).</summary>
        public bool OptionalValue { get; }

        public bool IsFlag => ValueName == null;
    }

    /// <summary>A command line that does not fit the command; printed with its usage, exit code 2.</summary>
    public sealed class CliUsageException : Exception
    {
        public CliUsageException(string message) : base(message)
        {
        }
    }

    /// <summary>Parsed arguments: positionals, option values (also <c>--name=value</c>) and flags.</summary>
    public sealed class CliArguments
    {
        private readonly Dictionary<string, List<string>> _values = new Dictionary<string, List<string>>();

        public List<string> Positionals { get; } = new List<string>();

        public static CliArguments Parse(IReadOnlyList<string> args, IReadOnlyList<CliOption> options)
        {
            var parsed = new CliArguments();
            for (int i = 0; i < args.Count; i++)
            {
                var token = args[i];
                if (token == "--")
                {
                    parsed.Positionals.AddRange(args.Skip(i + 1));
                    break;
                }
                if (!token.StartsWith("-", StringComparison.Ordinal) || token == "-")
                {
                    parsed.Positionals.Add(token);
                    continue;
                }
                string name = token, inline = null!;
                int eq = token.IndexOf('=');
                if (token.StartsWith("--", StringComparison.Ordinal) && eq > 0)
                {
                    name = token.Substring(0, eq);
                    inline = token.Substring(eq + 1);
                }
                var option = options.FirstOrDefault(o => o.Name == name || o.ShortName == name || o.Name == name.Replace('_', '-'));
                if (option == null)
                {
                    var close = Core.Configuration.StringDistance.Closest(name, options.Select(o => o.Name));
                    throw new CliUsageException($"unknown option '{name}'" + (close != null ? $"; did you mean '{close}'?" : ""));
                }
                var values = parsed.Values(option.Name, create: true)!;
                if (option.IsFlag)
                {
                    if (inline != null) throw new CliUsageException($"{option.Name} takes no value");
                    values.Add("true");
                    continue;
                }
                if (inline != null)
                {
                    values.Add(inline);
                    continue;
                }
                bool took = false;
                while (i + 1 < args.Count && !IsOptionLike(args[i + 1]))
                {
                    values.Add(args[++i]);
                    took = true;
                    if (!option.Many) break;
                }
                if (!took && !option.OptionalValue)
                    throw new CliUsageException($"{option.Name} needs a value ({option.ValueName})");
            }
            return parsed;
        }

        private static bool IsOptionLike(string token) =>
            token.StartsWith("-", StringComparison.Ordinal) && token.Length > 1 && !char.IsDigit(token[1]);

        private List<string>? Values(string name, bool create = false)
        {
            if (_values.TryGetValue(name, out var list)) return list;
            if (!create) return null;
            list = new List<string>();
            _values[name] = list;
            return list;
        }

        public bool Has(string name) => _values.ContainsKey(name);

        public string? Get(string name) => Values(name)?.LastOrDefault();

        public IReadOnlyList<string> GetAll(string name) => (IReadOnlyList<string>?)Values(name) ?? Array.Empty<string>();

        public int? GetInt(string name)
        {
            var v = Get(name);
            if (v == null) return null;
            if (int.TryParse(v, out var n)) return n;
            throw new CliUsageException($"{name} takes an integer, not '{v}'");
        }

        /// <summary>The only positional argument, or a usage error naming <paramref name="what"/>.</summary>
        public string Single(string what)
        {
            if (Positionals.Count == 1) return Positionals[0];
            throw new CliUsageException(Positionals.Count == 0 ? $"missing {what}" : $"unexpected arguments: {string.Join(" ", Positionals.Skip(1))}");
        }
    }
}
