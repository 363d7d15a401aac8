using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Training.Data;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Cli
{
    /// <summary>The XTuner-style commands over the catalogue: list-cfg, copy-cfg, list-options, list-templates.</summary>
    [Collection(DistributedCollection.Name)]
    public class CatalogueCommandTests
    {
        private static RankResult Xtuner(params string[] args) =>
            RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() }, TimeSpan.FromMinutes(1), args)[0];

        [Fact]
        public void ListCfgListsTheCatalogueAndFilters()
        {
            var all = Xtuner("list-cfg");
            Assert.Equal(0, all.ExitCode);
            foreach (var name in ConfigCatalogue.Names) Assert.Contains(name, all.Output);
            var filtered = Xtuner("list-cfg", "-p", "70b");
            var rows = filtered.Output.Split('\n').Skip(1).Where(l => l.Trim().Length > 0).ToList();
            Assert.Equal(4, rows.Count);
            Assert.All(rows, r => Assert.StartsWith("llama2-70b", r));
            Assert.Contains("(no config matches)", Xtuner("list-cfg", "-p", "nothing").Output);
        }

        [Fact]
        public void CopyCfgWritesAnEditableFileThatReadsBackAsTheEntry()
        {
            var dir = Path.Combine(Path.GetTempPath(), "xtuner-copy-" + Guid.NewGuid().ToString("N").Substring(0, 8));
            var copied = Xtuner("copy-cfg", "llama2-7b-full-128k-sp8", dir);
            Assert.Equal(0, copied.ExitCode);
            var file = Path.Combine(dir, "llama2-7b-full-128k-sp8_copy.yaml");
            var config = ConfigYaml.Load(file);
            Assert.Equal(ConfigYaml.Serialize(ConfigCatalogue.Get("llama2-7b-full-128k-sp8")), ConfigYaml.Serialize(config));

            var again = Xtuner("copy-cfg", "llama2-7b-full-128k-sp8", dir);
            Assert.Equal(1, again.ExitCode);
            Assert.Contains("[XTunerConfigFileExists]", again.Error);
            Assert.Equal(0, Xtuner("copy-cfg", "llama2-7b-full-128k-sp8", dir, "--force").ExitCode);

            var unknown = Xtuner("copy-cfg", "llama3-7b", dir);
            Assert.Equal(1, unknown.ExitCode);
            Assert.Contains("[XTunerConfigNotFound]", unknown.Error);
        }

        [Fact]
        public void ListOptionsAndListTemplatesShowEveryKeyAndTemplate()
        {
            var options = Xtuner("list-options");
            foreach (var field in ConfigSchema.Root.AllFields()) Assert.Contains(field.Path, options.Output);
            Assert.Equal(ConfigReference.Markdown().Trim(), Xtuner("list-options", "--markdown").Output.Trim());
            var templates = Xtuner("list-templates");
            foreach (var name in PromptTemplates.Names) Assert.Contains(name + "\n", templates.Output.Replace("\r", ""));
        }

        [Fact]
        public void HelpAndMistakesOnTheCommandLine()
        {
            var overview = Xtuner("--help");
            Assert.Equal(0, overview.ExitCode);
            foreach (var command in new[] { "train", "list-cfg", "copy-cfg", "evaluate", "benchmark", "submit" }) Assert.Contains(command, overview.Output);
            Assert.Contains("--nproc-per-node", Xtuner("train", "--help").Output);
            var typo = Xtuner("trian");
            Assert.Equal(2, typo.ExitCode);
            Assert.Contains("did you mean 'train'?", typo.Error);
        }
    }
}
