using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace XTuner.Core.Configuration
{
    /// <summary>
    /// Reads and writes configs as YAML with XTuner's key names. Reading is strict: unknown keys and bad values are
    /// errors with file, line and the closest valid key; all of them are reported at once.
    /// </summary>
    public static class ConfigYaml
    {
        /// <summary>Reads a config file.</summary>
        public static XTunerConfig Load(string path)
        {
            var full = Path.GetFullPath(path);
            if (!File.Exists(full))
                throw new XTunerConfigException(new ConfigFinding(FindingSeverity.Error, "", $"Config file '{full}' does not exist.", ErrorIds.ConfigFileNotFound));
            string text;
            try
            {
                text = File.ReadAllText(full);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new XTunerConfigException(new ConfigFinding(FindingSeverity.Error, "", $"Config file '{full}' cannot be read: {e.Message}", ErrorIds.ConfigFileNotFound));
            }
            var config = Parse(text, full);
            config.SourcePath = full;
            return config;
        }

        /// <summary>Reads config text; <paramref name="sourceName"/> names it in messages.</summary>
        public static XTunerConfig Parse(string yaml, string? sourceName = null)
        {
            var reader = new Reader(sourceName);
            var config = new XTunerConfig();
            var root = reader.LoadRoot(yaml);
            if (root != null) reader.ReadMapping(root, ConfigSchema.Root, config);
            if (reader.Findings.Count > 0) throw new XTunerConfigException(reader.Findings);
            return config;
        }

        /// <summary>
        /// Sets one key from text, as <c>--cfg-options key=value</c> does. The text is read as YAML.
        /// <paramref name="source"/> names the setting in messages (default <c>--cfg-options KEY</c>).
        /// </summary>
        public static void SetOption(XTunerConfig config, string dottedKey, string valueText, string? source = null)
        {
            var reader = new Reader(source ?? "--cfg-options " + dottedKey);
            var node = reader.LoadNode(valueText);
            reader.AssignByPath(config, dottedKey, node ?? new YamlScalarNode(""));
            if (reader.Findings.Count == 0) return;
            // A line and column inside a one-line value locate nothing; the source alone says where the value came from.
            foreach (var finding in reader.Findings) finding.Line = finding.Column = 0;
            throw new XTunerConfigException(reader.Findings);
        }

        /// <summary>Sets one key from a .NET value; messages name it as <paramref name="source"/> (default: PowerShell's -Option).</summary>
        public static void SetValue(XTunerConfig config, string dottedKey, object? value, string source = "-Option") =>
            SetOption(config, dottedKey, ToYamlText(value), source);

        /// <summary>A .NET value as a <c>key=value</c> assignment for <see cref="ApplyOptions"/> (what -Option means to Start-XTunerTraining).</summary>
        public static string ToAssignment(string dottedKey, object? value) => dottedKey + "=" + ToYamlText(value);

        /// <summary>Applies <c>key=value</c> pairs in order.</summary>
        public static void ApplyOptions(XTunerConfig config, IEnumerable<string> assignments)
        {
            var pairs = assignments.Select(a =>
            {
                int eq = a.IndexOf('=');
                if (eq <= 0)
                    throw new XTunerConfigException(new ConfigFinding(FindingSeverity.Error, a,
                        $"'{a}' is not key=value (e.g. sequence_parallel_size=4).", ErrorIds.InvalidConfigValue));
                return (Key: a.Substring(0, eq).Trim(), Value: a.Substring(eq + 1));
            }).ToList();
            // A checkpoint replaces the template's architecture and tokenizer (as New-XTunerConfig -Model does), so it
            // goes first: keys given beside it (model.rope_scaling, tokenizer) then refine the checkpoint's.
            foreach (var (key, value) in pairs.Where(p => p.Key == CheckpointKey))
            {
                var checkpoint = value.Trim().Trim('\'', '"');
                if (checkpoint.Length == 0 || checkpoint == "null") SetOption(config, key, value);
                else ConfigEdits.UseCheckpoint(config, checkpoint);
            }
            foreach (var (key, value) in pairs.Where(p => p.Key != CheckpointKey))
                SetOption(config, key, value);
        }

        private const string CheckpointKey = "pretrained_model_name_or_path";

        private static string ToYamlText(object? value)
        {
            switch (value)
            {
                case null: return "null";
                case string s: return Quote(s);
                case IDictionary _: throw new XTunerConfigException(new ConfigFinding(FindingSeverity.Error, "", "Nested values are set one key at a time, e.g. @{ 'slurm.partition' = 'gpu' }.", ErrorIds.InvalidConfigValue));
                case IEnumerable items: return "[" + string.Join(", ", items.Cast<object?>().Select(ToYamlText)) + "]";
                default: return Quote(ConfigValues.FormatScalar(value));
            }
        }

        private static string Quote(string s) => "'" + s.Replace("'", "''") + "'";

        /// <summary>The config as YAML text.</summary>
        public static string Serialize(XTunerConfig config)
        {
            var sb = new StringBuilder();
            using (var writer = new StringWriter(sb))
            {
                var emitter = new Emitter(writer, 2, int.MaxValue);
                emitter.Emit(new StreamStart());
                emitter.Emit(new DocumentStart());
                emitter.Emit(new MappingStart(null, null, true, MappingStyle.Block));
                string? group = null;
                foreach (var field in ConfigSchema.Root.Fields)
                {
                    var value = field.GetValue(config);
                    if (!HasContent(field, value)) continue;
                    if (field.Group != group)
                    {
                        group = field.Group;
                        emitter.Emit(new Comment(group, false));
                    }
                    EmitField(emitter, field, value!);
                }
                emitter.Emit(new MappingEnd());
                emitter.Emit(new DocumentEnd(true));
                emitter.Emit(new StreamEnd());
            }
            return sb.ToString();
        }

        /// <summary>Writes the config to a file atomically (see <see cref="AtomicFile"/>): whole or not at all.</summary>
        /// <exception cref="XTunerException">The file cannot be written (<see cref="ErrorIds.ConfigFileWriteFailed"/>; a full disk, no permission).</exception>
        public static void Save(XTunerConfig config, string path)
        {
            try
            {
                AtomicFile.WriteAllText(path, Serialize(config));
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new XTunerException(ErrorIds.ConfigFileWriteFailed, $"Cannot write the config to '{Path.GetFullPath(path)}': {e.Message}", e);
            }
        }

        private static bool HasContent(ConfigField field, object? value)
        {
            if (value == null) return false;
            if (field.Section != null)
                return field.Section.Fields.Any(f => HasContent(f, f.GetValue(value)));
            if (field.ElementType != null && field.Section == null && field.Path.Contains("."))
                return ((IList)value).Count > 0;
            return true;
        }

        private static void EmitField(IEmitter emitter, ConfigField field, object value)
        {
            emitter.Emit(new Scalar(field.Key));
            if (field.Section != null)
            {
                emitter.Emit(new MappingStart(null, null, true, MappingStyle.Block));
                foreach (var inner in field.Section.Fields)
                {
                    var v = inner.GetValue(value);
                    if (HasContent(inner, v)) EmitField(emitter, inner, v!);
                }
                emitter.Emit(new MappingEnd());
            }
            else if (value is IList list)
            {
                bool flow = field.ElementType != typeof(string);
                emitter.Emit(new SequenceStart(null, null, true, flow || list.Count == 0 ? SequenceStyle.Flow : SequenceStyle.Block));
                foreach (var item in list) EmitScalar(emitter, item!);
                emitter.Emit(new SequenceEnd());
            }
            else
            {
                EmitScalar(emitter, value);
            }
        }

        private static void EmitScalar(IEmitter emitter, object value)
        {
            var text = ConfigValues.FormatScalar(value);
            // Strings that other YAML readers would take for numbers, booleans or null are quoted.
            bool quote = value is string && (ConfigValues.IsNullText(text) ||
                ConfigValues.TryConvertScalar(typeof(double), text, out _, out _) ||
                ConfigValues.TryConvertScalar(typeof(bool), text, out _, out _));
            emitter.Emit(new Scalar(null, null, text, quote ? ScalarStyle.SingleQuoted : ScalarStyle.Any, !quote, quote));
        }

        private sealed class Reader
        {
            private readonly string? _source;

            public Reader(string? source) => _source = source;

            public List<ConfigFinding> Findings { get; } = new List<ConfigFinding>();

            public YamlMappingNode? LoadRoot(string yaml)
            {
                var node = LoadNode(yaml);
                if (node == null) return null;
                if (node is YamlMappingNode map) return map;
                Add(node, "", "The config must be a mapping of key: value lines.", ErrorIds.InvalidConfig);
                return null;
            }

            public YamlNode? LoadNode(string yaml)
            {
                var stream = new YamlStream();
                try
                {
                    stream.Load(new StringReader(yaml));
                }
                catch (YamlException e)
                {
                    var message = e.InnerException?.Message ?? e.Message;
                    Findings.Add(new ConfigFinding(FindingSeverity.Error, "", "Not valid YAML: " + StripMark(message), ErrorIds.InvalidConfig)
                    { File = _source, Line = (int)e.Start.Line, Column = (int)e.Start.Column });
                    return null;
                }
                catch (InvalidOperationException)
                {
                    // YamlDotNet's scanner fails this way on some truncated flow collections ("[a, b" at the end).
                    var lines = yaml.Split('\n').Length;
                    Findings.Add(new ConfigFinding(FindingSeverity.Error, "", "Not valid YAML: the text ends inside an unclosed [ ] or { }.", ErrorIds.InvalidConfig)
                    { File = _source, Line = lines, Column = 1 });
                    return null;
                }
                return stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
            }

            private static string StripMark(string message)
            {
                // YamlDotNet prefixes "(Line: 3, Col: 1, Idx: 20) - (Line: ...): "; we report the position ourselves.
                int i = message.LastIndexOf("): ", StringComparison.Ordinal);
                return message.StartsWith("(", StringComparison.Ordinal) && i > 0 ? message.Substring(i + 3) : message;
            }

            public void AssignByPath(XTunerConfig config, string dottedKey, YamlNode node)
            {
                var field = ConfigSchema.Root.Resolve(config, dottedKey, out var owner);
                if (field == null)
                {
                    var suggestion = StringDistance.Closest(dottedKey, ConfigSchema.Root.AllFields().Select(f => f.Path));
                    Findings.Add(new ConfigFinding(FindingSeverity.Error, dottedKey,
                        $"Unknown key '{dottedKey}'." + (suggestion != null ? $" Did you mean '{suggestion}'?" : " Run 'xtuner list-options' for the keys."),
                        ErrorIds.UnknownConfigKey) { File = _source });
                    return;
                }
                Assign(field, node, owner);
            }

            public void ReadMapping(YamlMappingNode map, ConfigSchema schema, object target)
            {
                foreach (var pair in map.Children)
                {
                    var key = (pair.Key as YamlScalarNode)?.Value ?? "";
                    var field = schema.Find(key);
                    if (field == null)
                    {
                        Unknown(pair.Key, key, schema);
                        continue;
                    }
                    Assign(field, pair.Value, target);
                }
            }

            private void Unknown(YamlNode at, string key, ConfigSchema schema)
            {
                var here = StringDistance.Closest(key, schema.Fields.Select(f => f.Key));
                string hint;
                if (here != null)
                {
                    hint = $" Did you mean '{here}'?";
                }
                else
                {
                    // A key that exists in another section (e.g. 'partition' at the top instead of under 'slurm').
                    var elsewhere = ConfigSchema.Root.AllFields()
                        .Where(f => f.Key == key || StringDistance.Closest(key, new[] { f.Key }) != null)
                        .Select(f => f.Path).FirstOrDefault();
                    hint = elsewhere != null
                        ? $" Did you mean '{elsewhere}' (under '{elsewhere.Substring(0, elsewhere.LastIndexOf('.'))}:')?"
                        : " Valid keys here: " + string.Join(", ", schema.Fields.Select(f => f.Key)) + ".";
                }
                Add(at, key, $"Unknown key '{key}'.{hint}", ErrorIds.UnknownConfigKey);
            }

            private void Assign(ConfigField field, YamlNode node, object target)
            {
                if (node is YamlScalarNode s && s.Style == ScalarStyle.Plain && ConfigValues.IsNullText(s.Value ?? ""))
                {
                    if (field.Section != null && !field.IsNullable)
                        field.SetValue(target, Activator.CreateInstance(field.ValueType));
                    else if (field.IsNullable)
                        field.SetValue(target, null);
                    else
                        Add(node, field.Path, $"'{field.Path}' needs a value ({field.TypeDescription}).", ErrorIds.InvalidConfigValue);
                    return;
                }
                if (field.Section != null)
                {
                    if (node is YamlMappingNode map)
                    {
                        var section = field.GetValue(target) ?? Activator.CreateInstance(field.ValueType);
                        ReadMapping(map, field.Section, section);
                        field.SetValue(target, section);
                    }
                    else
                    {
                        Add(node, field.Path, $"'{field.Path}' is a mapping of keys: {string.Join(", ", field.Section.Fields.Select(f => f.Key))}.", ErrorIds.InvalidConfigValue);
                    }
                    return;
                }
                if (field.ElementType != null)
                {
                    var items = node is YamlSequenceNode seq ? seq.Children.ToList() : new List<YamlNode> { node };
                    var list = (IList)Activator.CreateInstance(field.ValueType);
                    foreach (var item in items)
                    {
                        if (Scalar(field, item, field.ElementType, out var v)) list.Add(v);
                    }
                    field.SetValue(target, list);
                    return;
                }
                if (Scalar(field, node, field.ValueType, out var value)) field.SetValue(target, value);
            }

            private bool Scalar(ConfigField field, YamlNode node, Type type, out object? value)
            {
                value = null;
                if (!(node is YamlScalarNode scalar))
                {
                    Add(node, field.Path, $"'{field.Path}' takes {ConfigField.ScalarTypeName(type)}, not a {(node is YamlSequenceNode ? "list" : "mapping")}.", ErrorIds.InvalidConfigValue);
                    return false;
                }
                if (ConfigValues.TryConvertScalar(type, scalar.Value ?? "", out value, out var error)) return true;
                Add(node, field.Path, $"'{field.Path}': {error}.", ErrorIds.InvalidConfigValue);
                return false;
            }

            private void Add(YamlNode at, string key, string message, string errorId) =>
                Findings.Add(new ConfigFinding(FindingSeverity.Error, key, message, errorId)
                {
                    File = _source,
                    Line = (int)at.Start.Line,
                    Column = (int)at.Start.Column,
                });
        }
    }
}
