using System;
using System.Linq;
using System.Text;

namespace XTuner.Core.Configuration
{
    /// <summary>The configuration reference, generated from the schema (README table, <c>xtuner list-options</c>).</summary>
    public static class ConfigReference
    {
        /// <summary>A Markdown table of every key: key, values, default, meaning.</summary>
        public static string Markdown()
        {
            var defaults = new XTunerConfig();
            var sb = new StringBuilder();
            sb.AppendLine("| key | values | default | meaning |");
            sb.AppendLine("| --- | --- | --- | --- |");
            foreach (var field in ConfigSchema.Root.AllFields())
            {
                var def = DefaultOf(field, defaults);
                sb.AppendLine($"| `{field.Path}` | {field.TypeDescription.Replace("|", "\\|")} | {def} | {field.Description.Replace("|", "\\|")} |");
            }
            return sb.ToString();
        }

        /// <summary>Plain text for a terminal: one key per line.</summary>
        public static string Text()
        {
            var defaults = new XTunerConfig();
            var sb = new StringBuilder();
            foreach (var field in ConfigSchema.Root.AllFields())
            {
                var def = DefaultOf(field, defaults);
                sb.AppendLine($"{field.Path,-40} {field.TypeDescription}{(def.Length > 0 ? "  (default " + def.Trim('`') + ")" : "")}");
                sb.AppendLine($"    {field.Description}");
            }
            return sb.ToString();
        }

        private static string DefaultOf(ConfigField field, XTunerConfig defaults)
        {
            if (field.Path.Contains(".")) return "";
            var value = field.GetValue(defaults);
            if (value == null || field.Section != null) return "";
            if (value is System.Collections.IList list)
                return "`[" + string.Join(", ", list.Cast<object>().Select(ConfigValues.FormatScalar)) + "]`";
            return "`" + ConfigValues.FormatScalar(value) + "`";
        }
    }
}
