using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using XTuner.Core;
using XTuner.Core.Configuration;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Writes configurations to YAML files with XTuner's key names.</summary>
    /// <remarks>
    /// <para>Export-XTunerConfig writes each config from the pipeline as YAML (the format xtuner train and Get-XTunerConfig -Path read). When -Path is an existing folder, ends with / or \, or does not exist yet while several configs arrive, it is a folder (created when needed) and each config is written there as NAME.yaml; otherwise -Path is the file. Files are written whole or not at all (a temporary file is renamed into place).</para>
    /// <para>Each file holds one config: several configs to one existing file are refused before anything is written (ErrorId XTunerSeveralConfigsOneFile, terminating), and so is a second config of the pipeline whose NAME.yaml this pipeline already wrote (non-terminating), even with -Force. An existing file is not replaced unless -Force is given (ErrorId XTunerConfigFileExists); a file that cannot be written is ErrorId XTunerConfigFileWriteFailed. Both are non-terminating: the other configs of the pipeline are still written. -WhatIf shows what would be written; -PassThru returns the files.</para>
    /// </remarks>
    /// <example>
    /// <code>New-XTunerConfig -Template tiny-llama | Set-SequenceParallel -Size 2 | Export-XTunerConfig -Path ./my.yaml</code>
    /// <para>Saves a tiny-model config with two-way sequence parallelism.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerConfig llama2-7b* | Export-XTunerConfig -Path ./configs</code>
    /// <para>Writes every Llama2-7B recipe into the configs folder (created if needed), one file per config.</para>
    /// </example>
    [Cmdlet(VerbsData.Export, "XTunerConfig", SupportsShouldProcess = true)]
    [OutputType(typeof(FileInfo))]
    public sealed class ExportXTunerConfigCommand : XTunerCmdlet
    {
        // Whether -Path is a file or a folder depends on how many configs arrive: they are written at the end.
        private readonly List<XTunerConfig> _configs = new List<XTunerConfig>();

        /// <summary>The file to write, or a folder to write NAME.yaml into (an existing one, one ending with / or \, or any path when several configs arrive).</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string? Path { get; set; }

        /// <summary>The configs to write (from the pipeline).</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public XTunerConfig? Config { get; set; }

        /// <summary>Replace an existing file (never one this pipeline has just written).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Return the written files.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessInput() => _configs.Add(Config!);

        protected override void EndProcessing()
        {
            var target = ResolvePath(Path!);
            bool namesFolder = Path!.EndsWith("/", System.StringComparison.Ordinal) || Path.EndsWith("\\", System.StringComparison.Ordinal) ||
                               Directory.Exists(target) || (_configs.Count > 1 && !File.Exists(target));
            if (!namesFolder && _configs.Count > 1)
                ThrowTerminatingError(RecordOf(new XTunerException(ErrorIds.SeveralConfigsOneFile,
                    $"{_configs.Count} configs cannot go into one file, '{target}': give a folder for -Path (one file NAME.yaml per config), or export them one at a time."), target));
            var written = new Dictionary<string, string>(System.StringComparer.Ordinal);
            foreach (var config in _configs)
            {
                var file = namesFolder ? System.IO.Path.Combine(target, (config.Name ?? "xtuner") + ".yaml") : target;
                Attempt(file, () =>
                {
                    if (written.TryGetValue(file, out var earlier))
                        throw new XTunerException(ErrorIds.SeveralConfigsOneFile,
                            $"'{file}' already holds config '{earlier}' from this pipeline; config '{config.Name}' has the same name: rename one (Set-XTunerConfig -Name) to export both.");
                    if (File.Exists(file) && !Force.IsPresent)
                        throw new XTunerException(ErrorIds.ConfigFileExists, $"'{file}' exists; use -Force to replace it.");
                    if (!ShouldProcess(file, $"Write config '{config}'")) return;
                    ConfigYaml.Save(config, file);
                    written[file] = config.Name ?? "xtuner";
                    if (PassThru.IsPresent) WriteObject(new FileInfo(file));
                });
            }
        }
    }
}
