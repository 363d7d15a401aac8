using System.Management.Automation;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Lists the built-in configuration catalogue, returns one built-in configuration, or reads a YAML config file.</summary>
    /// <remarks>
    /// <para>Without parameters, Get-XTunerConfig lists every built-in configuration (the equivalent of xtuner list-cfg): a tiny Llama that trains on a CPU in seconds, and XTuner's long-context recipes for Llama 2, Yi, InternLM2, Qwen2 and Command R+ at 8k to 1M tokens with the sequence-parallel size and GPU count each was sized for.</para>
    /// <para>Every result is an XTunerConfig object: pipe it to Set-SequenceParallel, Set-XTunerConfig, Export-XTunerConfig, Test-XTunerConfig or Start-XTunerTraining. Each call returns fresh copies, so changing one never changes the catalogue.</para>
    /// <para>-Name takes exact names or wildcard patterns and tab-completes. -Path reads YAML files written by Export-XTunerConfig or xtuner copy-cfg; unknown keys and bad values are reported with the file, line and the closest valid key.</para>
    /// </remarks>
    /// <example>
    /// <code>Get-XTunerConfig</code>
    /// <para>Lists the catalogue: Name, Model, MaxLength, SequenceParallelSize, GPUs and Description.</para>
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

        /// <summary>Built-in config names or wildcard patterns (default: all).</summary>
        [Parameter(Position = 0, ParameterSetName = NameSet, ValueFromPipeline = true)]
        [SupportsWildcards]
        [ArgumentCompleter(typeof(CatalogueNameCompleter))]
        [ValidateNotNullOrEmpty]
        public string[]? Name { get; set; }

        /// <summary>YAML config files to read.</summary>
        [Parameter(Mandatory = true, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName", "PSPath")]
        [ValidateNotNullOrEmpty]
        public string[]? Path { get; set; }

        protected override void ProcessInput()
        {
            if (ParameterSetName == PathSet)
            {
                foreach (var p in Path!)
                {
                    var full = ResolvePath(p);
                    Attempt(full, () => WriteObject(ConfigYaml.Load(full)));
                }
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
