using System.Linq;
using System.Management.Automation;
using XTuner.Core.Configuration;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Changes any setting of configurations in the pipeline and checks the result.</summary>
    /// <remarks>
    /// <para>Set-XTunerConfig copies each config from the pipeline, applies the parameters you pass (typed parameters for the common settings; -Option for any key by its YAML name, dotted for nested keys such as 'slurm.partition' or 'model.rope_scaling.factor'), validates the result and passes it on.</para>
    /// <para>Unknown keys, values of the wrong type and settings that cannot train (for example a max_length beyond the model's positions, or a sequence-parallel size that does not divide the heads) are non-terminating errors with stable ErrorIds (XTunerUnknownConfigKey, XTunerInvalidConfigValue, XTunerSequenceTooLong, XTunerInvalidSequenceParallelSize); such a config is not passed on. File paths are checked by Test-XTunerConfig and Start-XTunerTraining, not here.</para>
    /// </remarks>
    /// <example>
    /// <code>Get-XTunerConfig tiny-llama | Set-XTunerConfig -MaxSteps 200 -LearningRate 1e-3 | Export-XTunerConfig ./tiny.yaml</code>
    /// <para>Trains longer with a lower learning rate.</para>
    /// </example>
    /// <example>
    /// <code>$cfg | Set-XTunerConfig -Option @{ 'slurm.partition' = 'gpu'; 'slurm.time' = '2-00:00:00'; betas = 0.9, 0.95 }</code>
    /// <para>Sets nested and list-valued keys by name.</para>
    /// </example>
    [Cmdlet(VerbsCommon.Set, "XTunerConfig")]
    [OutputType(typeof(XTunerConfig))]
    public sealed class SetXTunerConfigCommand : ConfigEditingCmdlet
    {
        /// <summary>The configs to change (from the pipeline).</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public XTunerConfig? Config { get; set; }

        protected override void ProcessInput()
        {
            ErrorTarget = Config;
            var config = Config!.Clone();
            ApplyEdits(config);
            var findings = ConfigValidator.Validate(config, BaseDirectoryOf(config), checkPaths: false);
            var errors = findings.Where(f => f.Severity == FindingSeverity.Error).ToList();
            if (errors.Count > 0) throw new XTunerConfigException(errors);
            WriteWarnings(findings);
            WriteObject(config);
        }
    }
}
