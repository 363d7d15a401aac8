using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace XTuner.BuildTools.Help
{
    /// <summary>One example of a cmdlet's help: the command line(s) and what they do.</summary>
    internal sealed record HelpExample(string Code, IReadOnlyList<string> Remarks);

    /// <summary>
    /// The compiler's XML documentation file (&lt;summary&gt;, &lt;remarks&gt;, &lt;example&gt;) read as help text:
    /// inline tags become plain text and source indentation is dropped, so paragraphs read as written.
    /// </summary>
    internal sealed class XmlDocumentation
    {
        private readonly Dictionary<string, XElement> _members;

        public XmlDocumentation(string path)
        {
            _members = XDocument.Load(path).Root?.Element("members")?.Elements("member")
                .Where(m => m.Attribute("name") != null)
                .ToDictionary(m => m.Attribute("name")!.Value, StringComparer.Ordinal)
                ?? new Dictionary<string, XElement>();
        }

        public string? Summary(Type type) => Paragraph(Member(type)?.Element("summary"));

        // Doc ids name the declaring type: an inherited parameter is documented on its base class.
        public string? Summary(PropertyInfo property) =>
            Paragraph(Find("P:" + TypeId(property.DeclaringType!) + "." + property.Name)?.Element("summary"));

        /// <summary>The &lt;para&gt;s of &lt;remarks&gt; (or the whole text when it has none).</summary>
        public IReadOnlyList<string> Remarks(Type type) => Paragraphs(Member(type)?.Element("remarks"));

        public IReadOnlyList<HelpExample> Examples(Type type) =>
            (Member(type)?.Elements("example") ?? Enumerable.Empty<XElement>())
                .Select(e => new HelpExample(Code(e.Element("code")), Paragraphs(new XElement("x", e.Nodes().Where(n => !(n is XElement c && c.Name == "code"))))))
                .ToList();

        private XElement? Member(Type type) => Find("T:" + TypeId(type));

        private XElement? Find(string id) => _members.TryGetValue(id, out var m) ? m : null;

        private static string TypeId(Type type) => type.FullName!.Replace('+', '.');

        private static IReadOnlyList<string> Paragraphs(XElement? element)
        {
            if (element == null) return Array.Empty<string>();
            var paras = element.Elements("para").ToList();
            var texts = paras.Count > 0 ? paras.Select(Paragraph) : new[] { Paragraph(element) };
            return texts.Where(t => !string.IsNullOrEmpty(t)).Select(t => t!).ToList();
        }

        /// <summary>Inline text with whitespace collapsed; null when empty.</summary>
        private static string? Paragraph(XElement? element)
        {
            if (element == null) return null;
            var text = new StringBuilder();
            AppendInline(element, text);
            var collapsed = Regex.Replace(text.ToString(), @"\s+", " ").Trim();
            return collapsed.Length == 0 ? null : collapsed;
        }

        private static void AppendInline(XElement element, StringBuilder text)
        {
            foreach (var node in element.Nodes())
            {
                if (node is XText t) text.Append(t.Value);
                else if (node is XElement e) text.Append(Inline(e));
            }
        }

        // <see cref="T:A.B"/> reads as B, <see langword="null"/> as $null (PowerShell's spelling), <c>x</c> as x.
        private static string Inline(XElement e)
        {
            switch (e.Name.LocalName)
            {
                case "see":
                case "seealso":
                    if (e.Attribute("langword") is XAttribute word)
                        return word.Value is "null" or "true" or "false" ? "$" + word.Value : word.Value;
                    if (!e.IsEmpty) break;
                    var cref = e.Attribute("cref")?.Value ?? e.Attribute("href")?.Value ?? "";
                    return cref.Substring(cref.LastIndexOf('.') + 1);
                case "paramref":
                case "typeparamref":
                    return e.Attribute("name")?.Value ?? "";
            }
            var inner = new StringBuilder();
            AppendInline(e, inner);
            return inner.ToString();
        }

        /// <summary>Code keeps its lines; the indentation the XML file adds to every line is removed.</summary>
        private static string Code(XElement? code)
        {
            if (code == null) return "";
            var lines = code.Value.Replace("\r\n", "\n").Split('\n').ToList();
            while (lines.Count > 0 && lines[0].Trim().Length == 0) lines.RemoveAt(0);
            while (lines.Count > 0 && lines[^1].Trim().Length == 0) lines.RemoveAt(lines.Count - 1);
            var indent = lines.Where(l => l.Trim().Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
            return string.Join("\n", lines.Select(l => l.Length >= indent ? l.Substring(indent).TrimEnd() : l.Trim()));
        }
    }
}
