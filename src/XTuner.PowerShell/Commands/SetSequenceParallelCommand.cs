using System.Linq;
using System.Management.Automation;
using XTuner.Core;
using XTuner.Core.Configuration;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Sets the sequence-parallel size of configurations in the pipeline, after checking it against the model.</summary>
    /// <remarks>
    /// <para>Sequence parallelism (DeepSpeed-Ulysses style) splits every sequence across -Size ranks, so the activation memory of each GPU falls with the size while training stays exactly the same: the loss is the global token mean and gradients are summed over all ranks.</para>
    /// <para>A config with a single rank (nodes 1, gpus_per_node 1, as tiny-llama and New-XTunerConfig's defaults) gets -Size ranks on its one node: gpus_per_node becomes the size. Otherwise the size must divide the world size (nodes x GPUs per node); -GpusPerNode changes the ranks per node.</para>
    /// <para>The size must also divide the model's attention heads. A size that does not fit is a non-terminating error with ErrorId XTunerInvalidSequenceParallelSize whose message names the size, the heads (or world size) and the sizes that work; the config is then not passed on. Heads that the size does not divide can be padded with -HeadPadding (exact, at some extra attention work).</para>
    /// <para>Each input is copied: the config you pipe in is not changed.</para>
    /// </remarks>
    /// <example>
    /// <code>Get-XTunerConfig tiny-llama | Set-SequenceParallel -Size 2 -GpusPerNode 2 | Start-XTunerTraining</code>
    /// <para>Trains the tiny model with every sequence split over two CPU processes.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerConfig llama2-7b-full-128k-sp8 | Set-SequenceParallel 4</code>
    /// <para>Halves the sequence-parallel size of a recipe (the data-parallel size doubles).</para>
    /// </example>
    [Cmdlet(VerbsCommon.Set, "SequenceParallel")]
    [OutputType(typeof(XTunerConfig))]
    public sealed class SetSequenceParallelCommand : XTunerCmdlet
    {
        /// <summary>Ranks that split each sequence.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [Alias("SequenceParallelSize")]
        public int Size { get; set; }

        /// <summary>The configs to change (from the pipeline).</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public XTunerConfig? Config { get; set; }

        /// <summary>Also set the ranks per node (GPUs, or CPU processes), e.g. to the same value as -Size on one machine.</summary>
        [Parameter]
        [Alias("NProcPerNode")]
        [ValidateRange(1, int.MaxValue)]
        public int GpusPerNode { get; set; }

        /// <summary>Pad attention heads that -Size does not divide instead of refusing the size.</summary>
        [Parameter]
        public SwitchParameter HeadPadding { get; set; }

        protected override void ProcessInput()
        {
            ErrorTarget = Config;
            var config = Config!.Clone();
            if (MyInvocation.BoundParameters.ContainsKey(nameof(GpusPerNode)))
            {
                config.GpusPerNode = GpusPerNode;
            }
            else if (config.WorldSize == 1 && Size > 1)
            {
                // One rank is no layout to keep: splitting each sequence over Size ranks needs Size ranks on that node.
                config.GpusPerNode = Size;
                WriteVerbose($"gpus_per_node set to {Size}: sequence_parallel_size {Size} needs {Size} ranks and the config had one.");
            }
            if (HeadPadding.IsPresent) config.SequenceParallelHeadPadding = true;
            var findings = ConfigValidator.ValidateSequenceParallel(config, Size, BaseDirectoryOf(config));
            var errors = findings.Where(f => f.Severity == FindingSeverity.Error).ToList();
            if (errors.Count > 0) throw new XTunerConfigException(errors);
            WriteWarnings(findings);
            config.SequenceParallelSize = Size;
            WriteObject(config);
        }
    }
}
