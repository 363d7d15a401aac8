using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Xml.Linq;

namespace XTuner.BuildTools.Help
{
    /// <summary>
    /// Writes cmdlet help as MAML, the XML that Get-Help reads for binary modules (the layout platyPS produces):
    /// synopsis, description, syntax per parameter set, parameters, inputs, outputs and examples.
    /// </summary>
    internal static class MamlWriter
    {
        private static readonly XNamespace Msh = "http://msh";
        private static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
        private static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
        private static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

        public static XDocument Document(IEnumerable<CmdletMetadata> cmdlets, XmlDocumentation docs) =>
            new XDocument(new XDeclaration("1.0", "utf-8", null),
                new XElement(Msh + "helpItems", new XAttribute("schema", "maml"),
                    cmdlets.Select(c => CommandElement(c, docs))));

        private static XElement CommandElement(CmdletMetadata cmdlet, XmlDocumentation docs) =>
            new XElement(Command + "command",
                new XAttribute(XNamespace.Xmlns + "maml", Maml),
                new XAttribute(XNamespace.Xmlns + "command", Command),
                new XAttribute(XNamespace.Xmlns + "dev", Dev),
                new XElement(Command + "details",
                    new XElement(Command + "name", cmdlet.Name),
                    new XElement(Command + "verb", cmdlet.Verb),
                    new XElement(Command + "noun", cmdlet.Noun),
                    Description(docs.Summary(cmdlet.Type))),
                Description(docs.Remarks(cmdlet.Type).ToArray()),
                new XElement(Command + "syntax", cmdlet.SetNames.Select(set =>
                    new XElement(Command + "syntaxItem",
                        new XElement(Maml + "name", cmdlet.Name),
                        cmdlet.InSet(set).Select(p => Parameter(p, p.In(set)!, docs, inSyntax: true))))),
                new XElement(Command + "parameters", cmdlet.Parameters.Select(p => Parameter(p, p.Overall, docs, inSyntax: false))),
                new XElement(Command + "inputTypes", Inputs(cmdlet, docs)),
                new XElement(Command + "returnValues", cmdlet.Outputs.DefaultIfEmpty().Select(t =>
                    new XElement(Command + "returnValue", TypeElement(t?.FullName ?? "None")))),
                new XElement(Command + "examples", docs.Examples(cmdlet.Type).Select((e, i) =>
                    new XElement(Command + "example",
                        new XElement(Maml + "title", $"-------------------------- Example {i + 1} --------------------------"),
                        new XElement(Dev + "code", e.Code),
                        new XElement(Dev + "remarks", e.Remarks.Select(Para))))),
                new XElement(Command + "relatedLinks",
                    new XElement(Maml + "navigationLink", new XElement(Maml + "linkText", "about_XTuner"), new XElement(Maml + "uri"))));

        private static XElement Parameter(CmdletParameter p, ParameterBinding binding, XmlDocumentation docs, bool inSyntax)
        {
            var pipeline = binding.ByValue && binding.ByPropertyName ? "True (ByValue, ByPropertyName)"
                : binding.ByValue ? "True (ByValue)"
                : binding.ByPropertyName ? "True (ByPropertyName)"
                : "False";
            var element = new XElement(Command + "parameter",
                new XAttribute("required", Bool(binding.Mandatory)),
                new XAttribute("variableLength", Bool(p.Type.IsArray)),
                new XAttribute("globbing", Bool(p.Globbing)),
                new XAttribute("pipelineInput", pipeline),
                new XAttribute("position", binding.Position?.ToString() ?? "named"),
                new XAttribute("aliases", p.Aliases.Count > 0 ? string.Join(", ", p.Aliases) : "none"),
                new XElement(Maml + "name", p.Name),
                Description(p.Description ?? (p.Property != null ? docs.Summary(p.Property) : null)));
            var values = EnumValues(p.Type);
            // A switch takes no value; in the syntax an enum shows its values instead of its type (-Device {Cpu | Cuda}).
            if (!p.IsSwitch && !(inSyntax && values.Count > 0))
                element.Add(new XElement(Command + "parameterValue", new XAttribute("required", "true"), new XAttribute("variableLength", Bool(p.Type.IsArray)), p.Type.Name));
            if (values.Count > 0)
                element.Add(new XElement(Command + "parameterValueGroup", values.Select(v =>
                    new XElement(Command + "parameterValue", new XAttribute("required", "false"), new XAttribute("variableLength", "false"), v))));
            element.Add(TypeElement(p.Type.FullName!), new XElement(Dev + "defaultValue", p.IsSwitch ? "False" : "None"));
            return element;
        }

        private static IEnumerable<XElement> Inputs(CmdletMetadata cmdlet, XmlDocumentation docs)
        {
            var inputs = cmdlet.PipelineParameters.GroupBy(p => p.Type).ToList();
            if (inputs.Count == 0)
            {
                yield return new XElement(Command + "inputType", TypeElement("None"),
                    Description("This cmdlet takes no pipeline input."));
                yield break;
            }
            foreach (var group in inputs)
                yield return new XElement(Command + "inputType", TypeElement(group.Key.FullName!),
                    Description(group.Select(p => $"-{p.Name}: {docs.Summary(p.Property!)}").ToArray()));
        }

        private static XElement TypeElement(string name) =>
            new XElement(Dev + "type", new XElement(Maml + "name", name), new XElement(Maml + "uri"));

        private static XElement Description(params string?[] paragraphs) =>
            new XElement(Maml + "description", paragraphs.Where(p => p != null).Select(p => Para(p!)));

        private static XElement Para(string text) => new XElement(Maml + "para", text);

        private static string Bool(bool value) => value ? "true" : "false";

        private static IReadOnlyList<string> EnumValues(Type type)
        {
            var t = type.IsArray ? type.GetElementType()! : type;
            return t.IsEnum ? Enum.GetNames(t) : Array.Empty<string>();
        }
    }
}
