using System;
using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace XTuner.Training.Data.Sources
{
    /// <summary>
    /// A row from Parquet.Net's untyped reader (a dictionary whose lists are lists and whose structs are dictionaries;
    /// null values are left out) as a JSON object with only the named columns.
    /// </summary>
    internal static class ParquetRowJson
    {
        public static string Write(IDictionary row, string[] columns)
        {
            var buffer = new ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                foreach (var column in columns)
                {
                    if (!row.Contains(column)) continue;
                    writer.WritePropertyName(column);
                    Value(writer, row[column]);
                }
                writer.WriteEndObject();
            }
            return Encoding.UTF8.GetString(buffer.WrittenSpan);
        }

        private static void Value(Utf8JsonWriter writer, object? value)
        {
            switch (value)
            {
                case null:
                    writer.WriteNullValue();
                    break;
                case string s:
                    writer.WriteStringValue(s);
                    break;
                case ReadOnlyMemory<char> m:
                    writer.WriteStringValue(m.Span);
                    break;
                case bool b:
                    writer.WriteBooleanValue(b);
                    break;
                case byte[] bytes:
                    writer.WriteBase64StringValue(bytes);
                    break;
                case sbyte or byte or short or ushort or int or uint or long:
                    writer.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                    break;
                case ulong u:
                    writer.WriteNumberValue(u);
                    break;
                case float or double or decimal:
                    writer.WriteNumberValue(Convert.ToDouble(value, CultureInfo.InvariantCulture));
                    break;
                case IDictionary map:
                    writer.WriteStartObject();
                    foreach (DictionaryEntry entry in map)
                    {
                        writer.WritePropertyName(Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? "");
                        Value(writer, entry.Value);
                    }
                    writer.WriteEndObject();
                    break;
                case IEnumerable items:
                    writer.WriteStartArray();
                    foreach (var item in items)
                        Value(writer, item);
                    writer.WriteEndArray();
                    break;
                case IFormattable f:
                    writer.WriteStringValue(f.ToString(null, CultureInfo.InvariantCulture));
                    break;
                default:
                    writer.WriteStringValue(value.ToString());
                    break;
            }
        }
    }
}
