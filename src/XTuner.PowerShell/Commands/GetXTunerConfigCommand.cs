using System.Management.Automation;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Lists the built-in configuration catalogue, returns one built-in configuration, or reads a YAML config file.</summary>
    /// <remarks>
    /// <para>Without parameters, Get-XTunerConfig lists every built-in configuration (the equivalent of xtuner list-cfg): a tiny Llama that trains on a CPU in seconds, and XTuner's long-context recipes for Llama 2, Yi, InternLM2, Qwen2 and Command R+ at 8k to 1M tokens with the sequence-parallel size and GPU count each was sized for.</para>
    /// <para>Every result is an XTunerConfig object: pipe it to Set-SequenceParallel, Set-XTunerConfig, Export-XTunerConfig, Test-XTunerConfig or Start-XTunerTraining. Each call returns fresh copies, so changing one never changes the catalogue.</para>
    /// <para>-Name takes exact names or wildcard patterns and tab-completes. -Path reads YAML files written by Export-XTunerConfig or xtuner copy-cfg (wildcards expand); -LiteralPath takes names as they are and binds the files Get-ChildItem returns (Get-ChildItem *.yaml | Get-XTunerConfig). Unknown keys and bad values are reported with the file, line and the closest valid key.</para>
    /// </remarks>
    /// <example>
    /// <code>Get-XTunerConfig</code>
    /// <para>Lists the catalogue: Name, ModelName, MaxLength, SP (sequence-parallel size) and GPUs; Format-Table -View Description shows what each is.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerConfig llama2-7b*</code>
    /// <para>Lists the Llama2-7B recipes.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining</code>
    /// <para>Trains the tiny model with sequence parallelism across two CPU processes.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerConfig -Path ./my.yaml</code>
    /// <para>Reads a config file.</para>
    /// </example>
    [Cmdlet(VerbsCommon.Get, "XTunerConfig", DefaultParameterSetName = NameSet)]
    [OutputType(typeof(XTunerConfig))]
    public sealed class GetXTunerConfigCommand : XTunerCmdlet
    {
        private const string NameSet = "Name";
        private const string PathSet = "Path";
        private const string LiteralPathSet = "LiteralPath";

        /// <summary>Built-in config names or wildcard patterns (default: all).</summary>
        [Parameter(Position = 0, ParameterSetName = NameSet, ValueFromPipeline = true)]
        [SupportsWildcards]
        [ArgumentCompleter(typeof(CatalogueNameCompleter))]
        [ValidateNotNullOrEmpty]
        public string[]? Name { get; set; }

        /// <summary>YAML config files to read; wildcards expand (configs/*.yaml).</summary>
        [Parameter(Mandatory = true, ParameterSetName = PathSet)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[]? Path { get; set; }

        /// <summary>YAML config files to read, each name taken exactly as written (no wildcards); binds the files from Get-ChildItem by their PSPath.</summary>
        [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath", "LP", "FullName")]
        [ValidateNotNullOrEmpty]
        public string[]? LiteralPath { get; set; }

        protected override void ProcessInput()
        {
            if (ParameterSetName == PathSet || ParameterSetName == LiteralPathSet)
            {
                bool literal = ParameterSetName == LiteralPathSet;
                foreach (var p in literal ? LiteralPath! : Path!)
                foreach (var file in ConfigPaths.Resolve(this, p, literal))
                    Attempt(file, () => WriteObject(ConfigYaml.Load(file)));
                return;
            }
            if (Name == null)
            {
                WriteObject(ConfigCatalogue.Find(), enumerateCollection: true);
                return;
            }
            foreach (var name in Name)
            {
                if (ConfigCatalogue.IsPattern(name))
                {
                    WriteObject(ConfigCatalogue.Find(name), enumerateCollection: true);
                    continue;
                }
                Attempt(name, () => WriteObject(ConfigCatalogue.Get(name)));
            }
        }
    }
}
