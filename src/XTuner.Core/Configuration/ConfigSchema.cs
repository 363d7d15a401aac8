using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;

namespace XTuner.Core.Configuration
{
    /// <summary>One configurable key: its YAML name, the property behind it and how its values convert.</summary>
    public sealed class ConfigField
    {
        internal ConfigField(PropertyInfo property, ConfigKeyAttribute key, string path)
        {
            Property = property;
            Key = key.Key;
            Path = path;
            Description = key.Description;
            Group = key.Group;
            var type = property.PropertyType;
            ValueType = Nullable.GetUnderlyingType(type) ?? type;
            IsNullable = !type.IsValueType || Nullable.GetUnderlyingType(type) != null;
            if (ValueType.IsGenericType && ValueType.GetGenericTypeDefinition() == typeof(List<>))
                ElementType = ValueType.GetGenericArguments()[0];
            else if (ValueType.IsClass && ValueType != typeof(string))
                Section = ConfigSchema.For(ValueType, path + ".");
        }

        /// <summary>The YAML key within its mapping, e.g. <c>partition</c>.</summary>
        public string Key { get; }

        /// <summary>The dotted key from the top, e.g. <c>slurm.partition</c>.</summary>
        public string Path { get; }

        public string Description { get; }

        public string Group { get; }

        public PropertyInfo Property { get; }

        /// <summary>The property type without Nullable&lt;&gt;.</summary>
        public Type ValueType { get; }

        public bool IsNullable { get; }

        /// <summary>For list fields, the element type.</summary>
        public Type? ElementType { get; }

        /// <summary>For nested mappings (model, rope_scaling, slurm), their schema.</summary>
        public ConfigSchema? Section { get; }

        public object? GetValue(object owner) => Property.GetValue(owner);

        public void SetValue(object owner, object? value) => Property.SetValue(owner, value);

        /// <summary>What values the key takes, for messages and the reference.</summary>
        public string TypeDescription
        {
            get
            {
                if (Section != null) return "mapping";
                if (ElementType != null) return "list of " + ScalarTypeName(ElementType);
                return ScalarTypeName(ValueType);
            }
        }

        internal static string ScalarTypeName(Type t)
        {
            if (t.IsEnum) return string.Join(" | ", ConfigValues.EnumNames(t));
            if (t == typeof(int) || t == typeof(long)) return "integer";
            if (t == typeof(double)) return "number";
            if (t == typeof(bool)) return "true | false";
            if (t == typeof(AutoCount)) return "auto | integer";
            return "string";
        }
    }

    /// <summary>The keys of a config section, read from its <see cref="ConfigKeyAttribute"/>s.</summary>
    public sealed class ConfigSchema
    {
        private static readonly Dictionary<string, ConfigSchema> Cache = new Dictionary<string, ConfigSchema>();
        private readonly Dictionary<string, ConfigField> _byKey;

        private ConfigSchema(Type type, string prefix)
        {
            Type = type;
            Fields = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Select(p => (p, a: p.GetCustomAttribute<ConfigKeyAttribute>()))
                .Where(x => x.a != null)
                .Select(x => new ConfigField(x.p, x.a!, prefix + x.a!.Key))
                .ToList();
            _byKey = Fields.ToDictionary(f => f.Key, StringComparer.Ordinal);
        }

        /// <summary>The schema of <see cref="XTunerConfig"/>.</summary>
        public static ConfigSchema Root { get; } = For(typeof(XTunerConfig), "");

        public Type Type { get; }

        public IReadOnlyList<ConfigField> Fields { get; }

        internal static ConfigSchema For(Type type, string prefix)
        {
            lock (Cache)
            {
                var id = prefix + "|" + type.FullName;
                if (!Cache.TryGetValue(id, out var schema))
                {
                    schema = new ConfigSchema(type, prefix);
                    Cache[id] = schema;
                }
                return schema;
            }
        }

        public ConfigField? Find(string key) => _byKey.TryGetValue(key, out var f) ? f : null;

        /// <summary>Every field below this schema, depth first (sections included).</summary>
        public IEnumerable<ConfigField> AllFields()
        {
            foreach (var f in Fields)
            {
                yield return f;
                if (f.Section != null)
                    foreach (var inner in f.Section.AllFields())
                        yield return inner;
            }
        }

        /// <summary>
        /// Finds the field for a dotted key (<c>slurm.partition</c>) and the object that holds it, creating
        /// missing sections on the way. Returns null when the key does not exist.
        /// </summary>
        public ConfigField? Resolve(object root, string dottedKey, out object owner)
        {
            owner = root;
            var schema = this;
            var parts = dottedKey.Split('.');
            for (int i = 0; i < parts.Length; i++)
            {
                var field = schema.Find(parts[i]);
                if (field == null) return null;
                if (i == parts.Length - 1) return field;
                if (field.Section == null) return null;
                var next = field.GetValue(owner);
                if (next == null)
                {
                    next = Activator.CreateInstance(field.ValueType);
                    field.SetValue(owner, next);
                }
                owner = next!;
                schema = field.Section;
            }
            return null;
        }

        /// <summary>A deep copy of an object of this schema's type.</summary>
        public T Clone<T>(T source) where T : class => (T)CloneObject(source);

        private object CloneObject(object source)
        {
            var copy = Activator.CreateInstance(Type);
            foreach (var f in Fields)
            {
                var value = f.GetValue(source);
                if (value == null) { f.SetValue(copy, null); continue; }
                if (f.Section != null) value = f.Section.CloneObject(value);
                else if (value is IList list)
                {
                    var newList = (IList)Activator.CreateInstance(f.ValueType);
                    foreach (var item in list) newList.Add(item);
                    value = newList;
                }
                f.SetValue(copy, value);
            }
            return copy;
        }
    }
}
