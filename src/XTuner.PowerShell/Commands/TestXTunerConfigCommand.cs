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
    /// <code>Get-ChildItem ./configs/*.yaml | Test-XTunerConfig</code>
    /// <para>Checks every config file of a folder (the files bind to -LiteralPath by their PSPath).</para>
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
        private const string LiteralPathSet = "LiteralPath";

        /// <summary>The configs to check (from the pipeline).</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ConfigSet)]
        [ValidateNotNull]
        public XTunerConfig? Config { get; set; }

        /// <summary>YAML config files to check; wildcards expand (configs/*.yaml).</summary>
        [Parameter(Mandatory = true, ParameterSetName = PathSet)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[]? Path { get; set; }

        /// <summary>YAML config files to check, each name taken exactly as written; binds the files from Get-ChildItem by their PSPath.</summary>
        [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath", "LP", "FullName")]
        [ValidateNotNullOrEmpty]
        public string[]? LiteralPath { get; set; }

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
            if (ParameterSetName == PathSet || ParameterSetName == LiteralPathSet)
            {
                bool literal = ParameterSetName == LiteralPathSet;
                foreach (var p in literal ? LiteralPath! : Path!)
                foreach (var file in ConfigPaths.Resolve(this, p, literal))
                    Check(() => ConfigYaml.Load(file));
                return;
            }
            Check(() => ParameterSetName == NameSet ? ConfigCatalogue.Get(Name!) : Config!);
        }

        private void Check(System.Func<XTunerConfig> read)
        {
            XTunerConfig config;
            try
            {
                config = read();
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
