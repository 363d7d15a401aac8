using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using XTuner.PowerShell.Tests.Hosting;
using Xunit;

namespace XTuner.PowerShell.Tests.Module
{
    /// <summary>
    /// The generated MAML reaches Get-Help: for every exported cmdlet, -Full, -Examples and -Parameter show the text of
    /// the cmdlet's XML documentation (bin/XTuner.PowerShell.xml), from en-US/ under the module base.
    /// </summary>
    public sealed class HelpTests : IClassFixture<ModuleSession>
    {
        private static readonly XElement[] Members = XDocument.Load(Path.ChangeExtension(Repository.ModuleAssembly, ".xml"))
            .Root!.Element("members")!.Elements("member").ToArray();

        private readonly ModuleSession _ps;

        public HelpTests(ModuleSession ps) => _ps = ps;

        public static IEnumerable<object[]> Cmdlets()
        {
            using var session = PowerShellSession.Open();
            return session.Run("(Get-Command -Module XTuner -CommandType Cmdlet).Name").Output.Select(o => new object[] { o.ToString() }).ToList();
        }

        [Theory]
        [MemberData(nameof(Cmdlets))]
        public void Full_help_shows_the_summary_remarks_and_every_parameter(string cmdlet)
        {
            var help = Single($"Get-Help {cmdlet} -Full");
            Assert.Contains("MamlCommandHelpInfo#FullView", help.TypeNames);
            var type = ClassOf(cmdlet);
            Assert.Equal(Text(Doc("T:" + type)!.Element("summary")), help.Properties["Synopsis"].Value);
            var description = Texts(Property(help, "description")).ToList();
            Assert.Equal(Doc("T:" + type)!.Element("remarks")!.Elements("para").Select(Text), description);
            var parameters = Texts(Property(help, "parameters", "parameter"), "name").ToList();
            Assert.Equal(ParameterNames(cmdlet).OrderBy(n => n), parameters.OrderBy(n => n));
        }

        [Theory]
        [MemberData(nameof(Cmdlets))]
        public void Examples_help_shows_each_example_with_its_code(string cmdlet)
        {
            var help = Single($"Get-Help {cmdlet} -Examples");
            Assert.Contains("MamlCommandHelpInfo#ExamplesView", help.TypeNames);
            var codes = Texts(Property(help, "examples", "example"), "code").ToList();
            Assert.Equal(Doc("T:" + ClassOf(cmdlet))!.Elements("example").Select(e => e.Element("code")!.Value.Trim()), codes);
        }

        [Theory]
        [MemberData(nameof(Cmdlets))]
        public void Parameter_help_shows_each_parameters_summary(string cmdlet)
        {
            foreach (var name in ParameterNames(cmdlet).Where(n => n != "WhatIf" && n != "Confirm"))
            {
                var help = Single($"Get-Help {cmdlet} -Parameter {name}");
                var summary = Members.Where(m => m.Attribute("name")!.Value.StartsWith("P:") && m.Attribute("name")!.Value.EndsWith("." + name))
                    .Select(m => Text(m.Element("summary"))).ToList();
                Assert.Contains(string.Join("", Texts(Property(help, "description"))), summary);
            }
        }

        [Fact]
        public void PowerShell_finds_the_help_under_the_module_base_not_beside_the_assembly()
        {
            var helpFile = Path.Combine(Repository.Root, "en-US", "XTuner.PowerShell.dll-Help.xml");
            Assert.True(File.Exists(helpFile), $"{helpFile} is missing: build src/XTuner.PowerShell.");
            Assert.Equal("XTuner.PowerShell.dll-Help.xml", Single("(Get-Command Get-XTunerConfig).HelpFile").ToString());
            Assert.Equal(Repository.Root.TrimEnd('/'), Single("(Get-Module XTuner).ModuleBase").ToString().TrimEnd('/'));
        }

        [Fact]
        public void The_help_file_has_one_command_per_exported_cmdlet()
        {
            XNamespace command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
            var names = XDocument.Load(Path.Combine(Repository.Root, "en-US", "XTuner.PowerShell.dll-Help.xml"))
                .Descendants(command + "details").Select(d => d.Element(command + "name")!.Value);
            Assert.Equal(Cmdlets().Select(c => (string)c[0]).OrderBy(n => n), names.OrderBy(n => n));
        }

        [Fact]
        public void The_about_topic_is_found()
        {
            var topic = Single("Get-Help about_XTuner");
            Assert.StartsWith("TOPIC", topic.ToString().TrimStart());
            Assert.Contains("Set-SequenceParallel", topic.ToString());
        }

        private PSObject Single(string script)
        {
            var result = _ps.Run(script);
            Assert.True(result.Errors.Count == 0 && result.Terminating == null, result.Describe());
            return Assert.Single(result.Output);
        }

        private string ClassOf(string cmdlet) => Single($"(Get-Command {cmdlet}).ImplementingType.FullName").ToString();

        private IEnumerable<string> ParameterNames(string cmdlet) =>
            _ps.Run($"(Get-Command {cmdlet}).Parameters.Keys | Where-Object {{ $_ -notin [System.Management.Automation.PSCmdlet]::CommonParameters }}")
                .Output.Select(o => o.ToString());

        private static XElement? Doc(string id) => Members.FirstOrDefault(m => m.Attribute("name")!.Value == id);

        private static string Text(XElement? element) => Regex.Replace(element?.Value ?? "", @"\s+", " ").Trim();

        /// <summary>A nested property of a help object (help objects are PSObjects of PSObjects).</summary>
        private static object? Property(PSObject help, params string[] path)
        {
            object? value = help;
            foreach (var name in path) value = value is PSObject o ? o.Properties[name]?.Value : null;
            return value;
        }

        /// <summary>The Text (or named) property of each item of a help list; Get-Help ends all paragraphs but the last with a newline.</summary>
        private static IEnumerable<string> Texts(object? items, string property = "Text") =>
            (items is object[] array ? array : new[] { items }).OfType<PSObject>().Select(i => i.Properties[property]?.Value?.ToString()?.Trim() ?? "");
    }
}
