using System.IO;
using System.Management.Automation;
using XTuner.Core;
using XTuner.Core.Configuration;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Writes configurations to YAML files with XTuner's key names.</summary>
    /// <remarks>
    /// <para>Export-XTunerConfig writes each config from the pipeline as YAML (the format xtuner train and Get-XTunerConfig -Path read). When -Path is an existing folder, or ends with / or \ (the folder is then created), each config is written there as NAME.yaml. Files are written whole or not at all (a temporary file is renamed into place).</para>
    /// <para>An existing file is not replaced unless -Force is given (ErrorId XTunerConfigFileExists); a file that cannot be written is ErrorId XTunerConfigFileWriteFailed. Both are non-terminating: the other configs of the pipeline are still written. -WhatIf shows what would be written; -PassThru returns the file.</para>
    /// </remarks>
    /// <example>
    /// <code>New-XTunerConfig -Template tiny-llama | Set-SequenceParallel -Size 2 | Export-XTunerConfig -Path ./my.yaml</code>
    /// <para>Saves a tiny-model config with two-way sequence parallelism.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerConfig llama2-7b* | Export-XTunerConfig -Path ./configs</code>
    /// <para>Writes every Llama2-7B recipe into the configs folder, one file per config.</para>
    /// </example>
    [Cmdlet(VerbsData.Export, "XTunerConfig", SupportsShouldProcess = true)]
    [OutputType(typeof(FileInfo))]
    public sealed class ExportXTunerConfigCommand : XTunerCmdlet
    {
        /// <summary>The file to write, or an existing folder to write NAME.yaml into.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string? Path { get; set; }

        /// <summary>The configs to write (from the pipeline).</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public XTunerConfig? Config { get; set; }

        /// <summary>Replace an existing file.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Return the written file.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessInput()
        {
            var target = ResolvePath(Path!);
            // "configs/" names a folder even before it exists.
            bool namesFolder = Path!.EndsWith("/", System.StringComparison.Ordinal) || Path.EndsWith("\\", System.StringComparison.Ordinal);
            if (namesFolder || Directory.Exists(target))
                target = System.IO.Path.Combine(target, (Config!.Name ?? "xtuner") + ".yaml");
            ErrorTarget = target;
            if (File.Exists(target) && !Force.IsPresent)
                throw new XTunerException(ErrorIds.ConfigFileExists, $"'{target}' exists; use -Force to replace it.");
            if (!ShouldProcess(target, $"Write config '{Config}'")) return;
            ConfigYaml.Save(Config!, target);
            if (PassThru.IsPresent) WriteObject(new FileInfo(target));
        }
    }
}
