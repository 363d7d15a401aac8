using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Reflection;

namespace XTuner.BuildTools.Help
{
    /// <summary>How one parameter binds in one parameter set.</summary>
    internal sealed record ParameterBinding(bool Mandatory, int? Position, bool ByValue, bool ByPropertyName);

    /// <summary>A cmdlet parameter as its attributes declare it.</summary>
    internal sealed class CmdletParameter
    {
        private CmdletParameter(string name, Type type, PropertyInfo? property, string? description,
            IReadOnlyDictionary<string, ParameterBinding> sets, IReadOnlyList<string> aliases, bool globbing)
        {
            Name = name;
            Type = type;
            Property = property;
            Description = description;
            Sets = sets;
            Aliases = aliases;
            Globbing = globbing;
        }

        public static CmdletParameter FromProperty(PropertyInfo property, IReadOnlyDictionary<string, ParameterBinding> sets) =>
            new CmdletParameter(property.Name, property.PropertyType, property, null, sets,
                property.GetCustomAttributes<AliasAttribute>().SelectMany(a => a.AliasNames).ToList(),
                property.GetCustomAttribute<SupportsWildcardsAttribute>() != null);

        /// <summary>A switch PowerShell adds itself (-WhatIf, -Confirm): the generator, not XML docs, describes it.</summary>
        public static CmdletParameter Added(string name, string alias, string description) =>
            new CmdletParameter(name, typeof(SwitchParameter), null, description,
                new Dictionary<string, ParameterBinding> { [ParameterAttribute.AllParameterSets] = new ParameterBinding(false, null, false, false) },
                new[] { alias }, false);

        public string Name { get; }

        public Type Type { get; }

        /// <summary>The cmdlet property behind the parameter; null for parameters PowerShell adds.</summary>
        public PropertyInfo? Property { get; }

        /// <summary>Set only for parameters PowerShell adds; the others are described by their XML &lt;summary&gt;.</summary>
        public string? Description { get; }

        /// <summary>Parameter set name (or <see cref="ParameterAttribute.AllParameterSets"/>) to how it binds there.</summary>
        public IReadOnlyDictionary<string, ParameterBinding> Sets { get; }

        public IReadOnlyList<string> Aliases { get; }

        public bool Globbing { get; }

        public bool IsSwitch => Type == typeof(SwitchParameter);

        public ParameterBinding? In(string set) =>
            Sets.TryGetValue(set, out var b) ? b : Sets.TryGetValue(ParameterAttribute.AllParameterSets, out var all) ? all : null;

        /// <summary>Across all sets, for the parameters section (which shows each parameter once).</summary>
        public ParameterBinding Overall => new ParameterBinding(
            Sets.Values.All(b => b.Mandatory),
            Sets.Values.Select(b => b.Position).Distinct().Count() == 1 ? Sets.Values.First().Position : null,
            Sets.Values.Any(b => b.ByValue),
            Sets.Values.Any(b => b.ByPropertyName));
    }

    /// <summary>What a cmdlet class declares: name, parameter sets, parameters, outputs.</summary>
    internal sealed class CmdletMetadata
    {
        private CmdletMetadata(Type type, CmdletAttribute cmdlet)
        {
            Type = type;
            Verb = cmdlet.VerbName;
            Noun = cmdlet.NounName;
            DefaultSet = cmdlet.DefaultParameterSetName;
            Parameters = ReadParameters(type, cmdlet);
            var named = Parameters.SelectMany(p => p.Sets.Keys).Where(s => s != ParameterAttribute.AllParameterSets).Distinct().ToList();
            // A default set that no parameter names (Get-XTunerJob without arguments) is still a set of its own to PowerShell.
            if (named.Count > 0 && DefaultSet != null && !named.Contains(DefaultSet)) named.Add(DefaultSet);
            // The default set comes first, as Get-Command and Get-Help list it.
            SetNames = named.Count == 0
                ? new[] { ParameterAttribute.AllParameterSets }
                : named.OrderBy(s => s == DefaultSet ? 0 : 1).ToList();
            Outputs = type.GetCustomAttributes<OutputTypeAttribute>().SelectMany(o => o.Type).Select(t => t.Type).Where(t => t != null).Distinct().ToList()!;
        }

        public Type Type { get; }

        public string Verb { get; }

        public string Noun { get; }

        public string Name => Verb + "-" + Noun;

        public string? DefaultSet { get; }

        public IReadOnlyList<CmdletParameter> Parameters { get; }

        public IReadOnlyList<string> SetNames { get; }

        public IReadOnlyList<Type> Outputs { get; }

        /// <summary>Pipeline input types: the parameters that take pipeline input.</summary>
        public IEnumerable<CmdletParameter> PipelineParameters => Parameters.Where(p => p.Overall.ByValue || p.Overall.ByPropertyName);

        /// <summary>Public, non-abstract cmdlet classes, ordered by cmdlet name.</summary>
        public static IReadOnlyList<CmdletMetadata> FromAssembly(Assembly assembly) =>
            assembly.GetExportedTypes()
                .Where(t => !t.IsAbstract && typeof(Cmdlet).IsAssignableFrom(t))
                .Select(t => (t, a: t.GetCustomAttribute<CmdletAttribute>()))
                .Where(x => x.a != null)
                .Select(x => new CmdletMetadata(x.t, x.a!))
                .OrderBy(c => c.Name, StringComparer.Ordinal)
                .ToList();

        /// <summary>Parameters in a set: positional ones by position, then mandatory, then the rest, as PowerShell's syntax lists them.</summary>
        public IEnumerable<CmdletParameter> InSet(string set) =>
            Parameters.Where(p => p.In(set) != null)
                .OrderBy(p => p.In(set)!.Position ?? int.MaxValue)
                .ThenBy(p => p.In(set)!.Mandatory ? 0 : 1);

        private static IReadOnlyList<CmdletParameter> ReadParameters(Type type, CmdletAttribute cmdlet)
        {
            // Derived-class properties first, then inherited ones, each in declaration order.
            var properties = new List<PropertyInfo>();
            for (var t = type; t != null && t != typeof(PSCmdlet) && t != typeof(Cmdlet); t = t.BaseType)
                properties.AddRange(t.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly).OrderBy(p => p.MetadataToken));

            var parameters = new List<CmdletParameter>();
            foreach (var property in properties)
            {
                var attributes = property.GetCustomAttributes<ParameterAttribute>().ToList();
                if (attributes.Count == 0) continue;
                var sets = attributes.ToDictionary(
                    a => a.ParameterSetName,
                    a => new ParameterBinding(a.Mandatory, a.Position == int.MinValue ? null : a.Position, a.ValueFromPipeline, a.ValueFromPipelineByPropertyName));
                parameters.Add(CmdletParameter.FromProperty(property, sets));
            }
            if (cmdlet.SupportsShouldProcess)
            {
                parameters.Add(CmdletParameter.Added("WhatIf", "wi", "Shows what would happen if the cmdlet runs. The cmdlet is not run."));
                parameters.Add(CmdletParameter.Added("Confirm", "cf", "Prompts you for confirmation before running the cmdlet."));
            }
            return parameters;
        }
    }
}
