using System.Management.Automation;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Creates a training configuration, from a built-in template or from defaults.</summary>
    /// <remarks>
    /// <para>New-XTunerConfig returns an XTunerConfig object built from -Template (a catalogue name, see Get-XTunerConfig) or from the defaults, with every parameter you pass applied on top. Parameters map to XTuner's keys (-MaxLength to max_length, -DataPath to data_files, ...); -Option sets any other key by its YAML name.</para>
    /// <para>-Model points the config at a Hugging Face checkpoint: its folder, or an id in the Hugging Face cache. The template's architecture and tokenizer are replaced by the checkpoint's; its RoPE scaling is kept. Paths are resolved against the current location.</para>
    /// <para>Nothing is written: pipe the result to Export-XTunerConfig to save it, or to Start-XTunerTraining to train.</para>
    /// </remarks>
    /// <example>
    /// <code>New-XTunerConfig -Template tiny-llama | Set-SequenceParallel -Size 2 | Export-XTunerConfig -Path ./my.yaml</code>
    /// <para>Writes the tiny model's config with two-way sequence parallelism to my.yaml.</para>
    /// </example>
    /// <example>
    /// <code>New-XTunerConfig -Template llama2-7b-full-32k-sp1 -Model ~/models/Llama-2-7b-hf -DataPath ./data.jsonl -MaxSteps 1000</code>
    /// <para>Fine-tunes a local Llama 2 checkpoint at 32k tokens on your own Alpaca-format data.</para>
    /// </example>
    /// <example>
    /// <code>New-XTunerConfig -Name my-run -Model Qwen/Qwen2-7B -DatasetFormat Chat -DataPath ./chat.jsonl -Option @{ 'slurm.partition' = 'gpu' }</code>
    /// <para>Builds a config from the defaults and sets a nested key with -Option.</para>
    /// </example>
    [Cmdlet(VerbsCommon.New, "XTunerConfig")]
    [OutputType(typeof(XTunerConfig))]
    public sealed class NewXTunerConfigCommand : ConfigEditingCmdlet
    {
        /// <summary>Built-in config to start from (tab-completes).</summary>
        [Parameter(Position = 0)]
        [ArgumentCompleter(typeof(CatalogueNameCompleter))]
        [ValidateNotNullOrEmpty]
        public string? Template { get; set; }

        protected override void ProcessInput()
        {
            ErrorTarget = Template;
            var config = Template != null ? ConfigCatalogue.Get(Template) : new XTunerConfig { Name = "xtuner" };
            ApplyEdits(config);
            WriteObject(config);
        }
    }
}
