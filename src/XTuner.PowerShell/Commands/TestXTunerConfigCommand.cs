using System.Linq;
using System.Management.Automation;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Checks configurations and returns what is wrong with them.</summary>
    /// <remarks>
    /// <para>Test-XTunerConfig runs every check Start-XTunerTraining runs before it starts a rank: positive sizes, the sequence-parallel size against the model's attention heads and the world size, max_length against the model's positions (or a RoPE scaling that extends them), that the checkpoint, tokenizer and data files exist, and that a checkpoint agrees with the config's architecture.</para>
    /// <para>It returns one finding per problem (Severity, Key, Message, ErrorId, and the file and line when the config came from a file), nothing when the config is sound. -Quiet returns $true or $false instead.</para>
    /// </remarks>
    /// <example>
    /// <code>Test-XTunerConfig -Path ./my.yaml</code>
    /// <para>Lists the problems of a config file, with file and line.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerConfig | Where-Object { -not ($_ | Test-XTunerConfig -Quiet) }</code>
    /// <para>Finds catalogue entries that would not start on this machine.</para>
    /// </example>
    [Cmdlet(VerbsDiagnostic.Test, "XTunerConfig", DefaultParameterSetName = ConfigSet)]
    [OutputType(typeof(ConfigFinding), typeof(bool))]
    public sealed class TestXTunerConfigCommand : XTunerCmdlet
    {
        private const string ConfigSet = "Config";
        private const string PathSet = "Path";
        private const string NameSet = "Name";

        /// <summary>The configs to check (from the pipeline).</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ConfigSet)]
        [ValidateNotNull]
        public XTunerConfig? Config { get; set; }

        /// <summary>A YAML config file to check.</summary>
        [Parameter(Mandatory = true, ParameterSetName = PathSet)]
        [ValidateNotNullOrEmpty]
        public string? Path { get; set; }

        /// <summary>A built-in config to check.</summary>
        [Parameter(Mandatory = true, ParameterSetName = NameSet)]
        [ArgumentCompleter(typeof(CatalogueNameCompleter))]
        [ValidateNotNullOrEmpty]
        public string? Name { get; set; }

        /// <summary>Return $true when there are no errors, $false otherwise, instead of the findings.</summary>
        [Parameter]
        public SwitchParameter Quiet { get; set; }

        protected override void ProcessInput()
        {
            XTunerConfig config;
            try
            {
                config = ParameterSetName == PathSet ? ConfigYaml.Load(ResolvePath(Path!))
                    : ParameterSetName == NameSet ? ConfigCatalogue.Get(Name!)
                    : Config!;
            }
            catch (XTunerConfigException e)
            {
                // A file that cannot even be read is itself the finding.
                Emit(e.Findings);
                return;
            }
            Emit(ConfigValidator.Validate(config, BaseDirectoryOf(config)));
        }

        private void Emit(System.Collections.Generic.IReadOnlyList<ConfigFinding> findings)
        {
            if (Quiet.IsPresent)
                WriteObject(findings.All(f => f.Severity != FindingSeverity.Error));
            else
                WriteObject(findings, enumerateCollection: true);
        }
    }
}
