using System;

namespace XTuner.Core.Configuration
{
    /// <summary>
    /// Names a configuration property in YAML (XTuner's snake_case key) and documents it.
    /// The schema, the YAML reader and writer, <c>--cfg-options</c>, <c>Set-XTunerConfig -Option</c>
    /// and the README's configuration reference all derive from these attributes.
    /// </summary>
    [AttributeUsage(AttributeTargets.Property)]
    public sealed class ConfigKeyAttribute : Attribute
    {
        public ConfigKeyAttribute(string key, string description)
        {
            Key = key;
            Description = description;
        }

        public string Key { get; }

        public string Description { get; }

        /// <summary>Heading under which the key is written in YAML and listed in the reference.</summary>
        public string Group { get; set; } = "";
    }

    /// <summary>Spelling accepted for an enum value besides its lower-case name (e.g. <c>bf16</c>).</summary>
    [AttributeUsage(AttributeTargets.Field, AllowMultiple = true)]
    public sealed class ConfigAliasAttribute : Attribute
    {
        public ConfigAliasAttribute(string alias) => Alias = alias;

        public string Alias { get; }
    }

    /// <summary>The value written to YAML for an enum field when it differs from the lower-case name.</summary>
    [AttributeUsage(AttributeTargets.Field)]
    public sealed class ConfigNameAttribute : Attribute
    {
        public ConfigNameAttribute(string name) => Name = name;

        public string Name { get; }
    }
}
