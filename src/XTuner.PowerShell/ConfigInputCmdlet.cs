using System.Management.Automation;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;

namespace XTuner.PowerShell
{
    /// <summary>
    /// A cmdlet that works on one config at a time, given three ways: from the pipeline (-Config), by catalogue name
    /// (-Name, tab-completed) or as a YAML file (-Path).
    /// </summary>
    public abstract class ConfigInputCmdlet : XTunerCmdlet
    {
        protected const string ConfigSet = "Config";
        protected const string NameSet = "Name";
        protected const string PathSet = "Path";

        /// <summary>The config (from the pipeline: Get-XTunerConfig, New-XTunerConfig, Set-XTunerConfig).</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ConfigSet)]
        [ValidateNotNull]
        public XTunerConfig? Config { get; set; }

        /// <summary>A built-in config (tab-completes; see Get-XTunerConfig).</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = NameSet)]
        [ArgumentCompleter(typeof(CatalogueNameCompleter))]
        [ValidateNotNullOrEmpty]
        public string? Name { get; set; }

        /// <summary>A YAML config file.</summary>
        [Parameter(Mandatory = true, ParameterSetName = PathSet)]
        [ValidateNotNullOrEmpty]
        public string? Path { get; set; }

        /// <summary>The config the parameters give.</summary>
        protected XTunerConfig ReadConfig() => ParameterSetName switch
        {
            NameSet => ConfigCatalogue.Get(Name!),
            PathSet => ConfigYaml.Load(ResolvePath(Path!)),
            _ => Config!,
        };
    }
}
