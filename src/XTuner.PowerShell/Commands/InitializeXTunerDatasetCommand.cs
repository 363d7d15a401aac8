using System;
using System.Collections;
using System.Management.Automation;
using System.Threading;
using XTuner.Core;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Datasets;
using XTuner.Core.Launch;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Tokenizes and packs a config's training data into its dataset cache, ahead of training.</summary>
    /// <remarks>
    /// <para>Initialize-XTunerDataset reads the config's data_files (JSONL, .jsonl.gz or Parquet), tokenizes them on every core and packs them exactly as training does, into the dataset cache: dataset_cache_dir, or the dataset_cache folder of the run's work dir. Every later Start-XTunerTraining, resume or requeued SLURM job whose data files, tokenizer, format, prompt template, max_length and packing are the same reads that cache instead of tokenizing: its ranks read only the sequences they train on, so their memory no longer grows with the dataset.</para>
    /// <para>The work happens in an xtuner worker process (the tokenizers are not loaded into PowerShell). A progress bar shows the share of the data read, samples, tokens, MB/s and the time left; a cache that is already there is read back sequence by sequence against its checksums and reused. -Force builds it anew. A damaged cache is rebuilt with a warning.</para>
    /// <para>It returns an XTunerDataset: the cache folder, the dataset statistics training prints (samples, sequences, tokens, targets, padding, truncated samples, skipped lines), the cache's size, and whether it was reused. A malformed line or row stops it with XTunerBadDataLine naming the file and line (JSONL) or row (Parquet), unless skip_bad_lines is set.</para>
    /// </remarks>
    /// <example>
    /// <code>Get-XTunerConfig tiny-llama | Initialize-XTunerDataset -WorkDir ./runs/tiny</code>
    /// <para>Prepares the built-in sample for the run in ./runs/tiny; Start-XTunerTraining -WorkDir ./runs/tiny then starts without tokenizing.</para>
    /// </example>
    /// <example>
    /// <code>Initialize-XTunerDataset -Path ./my.yaml -Option @{ dataset_cache_dir = '/shared/xtuner-cache'; data_files = @('/data/train-00000.parquet') }</code>
    /// <para>Prepares a Parquet file into a cache folder that several runs (and nodes) share.</para>
    /// </example>
    [Cmdlet(VerbsData.Initialize, "XTunerDataset", SupportsShouldProcess = true, DefaultParameterSetName = ConfigSet)]
    [OutputType(typeof(XTunerDataset))]
    public sealed class InitializeXTunerDatasetCommand : ConfigInputCmdlet, IDisposable
    {
        private readonly CancellationTokenSource _cancel = new CancellationTokenSource();

        /// <summary>The run's work dir, whose dataset_cache folder is the cache unless dataset_cache_dir says otherwise (default: the config's work_dir, else work_dirs/NAME under the current location).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? WorkDir { get; set; }

        /// <summary>Other keys, by their YAML names (dotted for nested ones): @{ dataset_cache_dir = '/shared/cache'; max_length = 4096 }.</summary>
        [Parameter]
        public Hashtable? Option { get; set; }

        /// <summary>Threads that tokenize (default: every core).</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int ThreadCount { get; set; }

        /// <summary>Build the cache anew even when a valid one is there.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override bool ErrorsTerminate => true;

        protected override void ProcessInput()
        {
            ErrorTarget = (object?)Name ?? Path;
            var config = ReadConfig();
            ErrorTarget = config;
            var prepared = LaunchPlanner.Prepare(config, Options(), out var warnings);
            WriteWarnings(warnings);
            if (prepared.DatasetFormat == DatasetFormat.Synthetic)
            {
                WriteWarning($"'{prepared.Name}' uses dataset_format synthetic, whose sequences are made as training asks for them: there is nothing to prepare.");
                return;
            }
            var cacheRoot = DatasetCacheDirectory.Resolve(prepared)
                ?? throw new XTunerException(ErrorIds.InvalidConfig,
                    $"dataset_cache_dir is {DatasetCacheDirectory.Disabled}: there is no cache to prepare. Set dataset_cache_dir to a folder, or leave it out for WORK_DIR/{DatasetCacheDirectory.DefaultFolderName}.");
            if (!ShouldProcess(cacheRoot, $"Tokenize and pack the data of '{prepared.Name}'")) return;
            ErrorTarget = prepared;
            Prepare(prepared);
        }

        /// <summary>Ctrl+C: the pipeline thread stops the worker (see <see cref="Prepare"/>).</summary>
        protected override void StopProcessing() => _cancel.Cancel();

        public void Dispose() => _cancel.Dispose();

        /// <summary>Runs the worker; its progress is written here, on the pipeline thread, the only one PowerShell lets write.</summary>
        private void Prepare(XTunerConfig prepared)
        {
            var activity = $"Preparing the data of {prepared.Name}";
            XTunerDataset dataset;
            using (var preparation = new DatasetPreparation(prepared, Force.IsPresent, ThreadCount > 0 ? ThreadCount : (int?)null))
            {
                try
                {
                    preparation.Start();
                    foreach (var message in preparation.Messages(_cancel.Token))
                    {
                        if (message.Kind == DatasetPreparationMessageKind.Progress) WriteProgress(DataPreparationProgress.Update(activity, message.Progress!));
                        else if (message.Kind == DatasetPreparationMessageKind.Warning) WriteWarning(message.Text);
                        else WriteVerbose(message.Text);
                    }
                    dataset = preparation.Result();
                }
                catch (OperationCanceledException)
                {
                    preparation.Stop();
                    throw new PipelineStoppedException();
                }
                finally
                {
                    WriteProgress(DataPreparationProgress.Completed(activity));
                }
            }
            WriteObject(dataset);
        }

        private LaunchOptions Options()
        {
            var options = new LaunchOptions
            {
                BaseDirectory = CurrentDirectory,
                WorkDir = WorkDir != null ? ResolvePath(WorkDir) : null,
            };
            if (Option != null)
            {
                foreach (DictionaryEntry entry in Option)
                {
                    var value = entry.Value is PSObject pso ? pso.BaseObject : entry.Value;
                    options.ConfigOptions.Add(ConfigYaml.ToAssignment(entry.Key.ToString(), value));
                }
            }
            return options;
        }
    }
}
