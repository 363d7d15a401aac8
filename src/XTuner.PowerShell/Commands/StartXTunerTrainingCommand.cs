using System;
using System.Collections;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using XTuner.Core;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Core.Runs;
using XTuner.Core.Slurm;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Trains a model: starts one xtuner rank process per GPU (or CPU rank) and follows rank 0's progress.</summary>
    /// <remarks>
    /// <para>Start-XTunerTraining takes an XTunerConfig from the pipeline (Get-XTunerConfig, New-XTunerConfig, Set-SequenceParallel), a built-in config by -Name, or YAML files by -Path (wildcards expand) or -LiteralPath (which binds the files of Get-ChildItem *.yaml). Several configs train one after another (with -AsJob, side by side); with -WorkDir, each of several configs runs in WORKDIR/NAME (configs of the same name are refused, ErrorId XTunerSeveralRunsOneWorkDir), and one config runs in WORKDIR itself. The parameters override the config for this run only: -SequenceParallelSize splits every sequence across that many ranks, -GpusPerNode sets the ranks on this machine (-RanksPerGpu lets several share one GPU, with the collectives through host memory), -MaxSteps, -Device and -WorkDir do what they say, and -Option sets any other key by its YAML name.</para>
    /// <para>Before anything starts, the config is checked as Test-XTunerConfig checks it and turned into a launch plan: the ranks, their sequence-parallel and data-parallel groups, devices, environment and command. -WhatIf shows that plan and starts nothing; the plan is also written to the information stream (-InformationVariable) as a LaunchPlan object. A config that cannot run is a terminating error with the id of the problem, such as XTunerInvalidSequenceParallelSize; a CUDA run on a machine that shows fewer NVIDIA GPUs than the ranks it starts here need (one each, or one per -RanksPerGpu of them) is XTunerCudaUnavailable, before any rank starts.</para>
    /// <para>The ranks write their logs to WORKDIR/logs/rankN.log, the metrics of every step to WORKDIR/metrics.jsonl and the run's state to WORKDIR/run.json; the config they read is saved as WORKDIR/config.yaml. A work dir that holds a running run, or checkpoints of an earlier one, is refused unless -Resume or -ResumeFrom continues it.</para>
    /// <para>While training runs, a progress bar shows the step, the loss, tokens per second per GPU and the time left; -Verbose also shows rank 0's output. When a rank fails, the others are stopped and the error (XTunerRankFailed, or XTunerRendezvousTimeout when the ranks could not meet) names the rank, its exit code and the last lines of its log. Ctrl+C stops every rank.</para>
    /// <para>-AsJob returns at once with a job: Receive-Job yields the run, Stop-Job stops every rank. -PassThru returns the run when training ends: its work dir, ranks, state and last metrics. -Launcher Slurm (or launcher: slurm in the config) submits a SLURM batch job instead (WORK_DIR/submit.sbatch; -WhatIf prints the script) and returns an XTunerJob to follow with Wait-XTunerJob.</para>
    /// </remarks>
    /// <example>
    /// <code>Get-XTunerConfig tiny-llama-sp2 | Start-XTunerTraining -MaxSteps 20 -PassThru</code>
    /// <para>Trains the tiny model for 20 steps on two CPU processes that split each sequence, and returns the run.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerConfig llama2-7b-full-32k-sp1 | Start-XTunerTraining -SequenceParallelSize 4 -WhatIf</code>
    /// <para>Shows the launch plan with sequence parallelism across four GPUs, without starting anything.</para>
    /// </example>
    /// <example>
    /// <code>$job = Start-XTunerTraining -Path ./my.yaml -WorkDir ./runs/my -AsJob; Receive-Job $job -Wait</code>
    /// <para>Trains in the background; Receive-Job shows the progress and returns the run when it ends.</para>
    /// </example>
    /// <example>
    /// <code>Get-ChildItem ./configs/*.yaml | Start-XTunerTraining -WorkDir ./runs -WhatIf</code>
    /// <para>Shows the launch plan of every config file of a folder, each in ./runs/NAME.</para>
    /// </example>
    /// <example>
    /// <code>Start-XTunerTraining -Name tiny-llama -WorkDir ./runs/tiny -Resume -Option @{ max_steps = 120; lr = 1e-3 }</code>
    /// <para>Continues the run in ./runs/tiny from its latest checkpoint, with two keys changed.</para>
    /// </example>
    [Cmdlet(VerbsLifecycle.Start, "XTunerTraining", SupportsShouldProcess = true, DefaultParameterSetName = ConfigSet)]
    [OutputType(typeof(XTunerRun), typeof(XTunerTrainingJob), typeof(XTunerJob))]
    public sealed class StartXTunerTrainingCommand : XTunerCmdlet, IDisposable
    {
        private const string ConfigSet = "Config";
        private const string NameSet = "Name";
        private const string PathSet = "Path";
        private const string LiteralPathSet = "LiteralPath";

        private readonly CancellationTokenSource _cancel = new CancellationTokenSource();

        // With -WorkDir, whether it is the run's folder or the parent of one folder per config depends on how many
        // configs arrive: they start at the end.
        private readonly System.Collections.Generic.List<XTunerConfig> _pending = new System.Collections.Generic.List<XTunerConfig>();

        /// <summary>The config to train (from the pipeline).</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ConfigSet)]
        [ValidateNotNull]
        public XTunerConfig? Config { get; set; }

        /// <summary>A built-in config to train (tab-completes; see Get-XTunerConfig).</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = NameSet)]
        [ArgumentCompleter(typeof(CatalogueNameCompleter))]
        [ValidateNotNullOrEmpty]
        public string? Name { get; set; }

        /// <summary>YAML config files to train; wildcards expand (each file is one run).</summary>
        [Parameter(Mandatory = true, ParameterSetName = PathSet)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[]? Path { get; set; }

        /// <summary>YAML config files to train, each name taken exactly as written; binds the files from Get-ChildItem by their PSPath.</summary>
        [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath", "LP", "FullName")]
        [ValidateNotNullOrEmpty]
        public string[]? LiteralPath { get; set; }

        /// <summary>Ranks that split each sequence (sequence_parallel_size); must divide the attention heads and the world size.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int SequenceParallelSize { get; set; }

        /// <summary>Ranks on this machine (gpus_per_node): GPUs on CUDA, processes on CPU.</summary>
        [Parameter]
        [Alias("NProcPerNode")]
        [ValidateRange(1, int.MaxValue)]
        public int GpusPerNode { get; set; }

        /// <summary>Ranks that share each GPU (ranks_per_gpu): with -GpusPerNode above the machine's GPUs, to try a layout on fewer GPUs; the collectives then go through host memory.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int RanksPerGpu { get; set; }

        /// <summary>Fused CUDA kernels compiled at run time with NVRTC (fused_kernels): auto (the default: on CUDA when NVRTC loads), true (required: refused on the CPU or without NVRTC), or false (never).</summary>
        [Parameter]
        [ValidateSet("auto", "true", "false")]
        public string? FusedKernels { get; set; }

        /// <summary>Cpu or Cuda.</summary>
        [Parameter]
        public DeviceKind Device { get; set; }

        /// <summary>Folder for the run's config, logs, metrics, checkpoints and model (default: the config's work_dir, else work_dirs/NAME under the current location). When several configs arrive, each runs in WORKDIR/NAME.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? WorkDir { get; set; }

        /// <summary>Optimizer steps to train (max_steps).</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int MaxSteps { get; set; }

        /// <summary>Continue from the latest checkpoint in the work dir.</summary>
        [Parameter]
        public SwitchParameter Resume { get; set; }

        /// <summary>Continue from this checkpoint folder (implies -Resume).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ResumeFrom { get; set; }

        /// <summary>Any other keys for this run, by their YAML names (dotted for nested ones): @{ lr = 1e-3; save_steps = 50 }.</summary>
        [Parameter]
        public Hashtable? Option { get; set; }

        /// <summary>Local (one process per rank on this machine) or Slurm (submit a batch job; returns an XTunerJob to follow with Wait-XTunerJob). Default: the config's launcher.</summary>
        [Parameter]
        public LauncherKind Launcher { get; set; }

        /// <summary>Return the run (XTunerRun) when training ends.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>Train in the background and return a job at once; Receive-Job yields the run, Stop-Job stops every rank.</summary>
        [Parameter]
        public SwitchParameter AsJob { get; set; }

        /// <summary>A run that cannot start, or fails, stops the pipeline.</summary>
        protected override bool ErrorsTerminate => true;

        protected override void ProcessInput()
        {
            ErrorTarget = (object?)Config ?? Name ?? (object?)Path ?? LiteralPath;
            foreach (var config in ReadConfigs())
            {
                if (WorkDir != null) _pending.Add(config);
                else Start(config, workDir: null);
            }
        }

        protected override void EndProcessing()
        {
            if (_pending.Count == 0) return;
            try
            {
                if (_pending.Count == 1)
                {
                    Start(_pending[0], ResolvePath(WorkDir!));
                    return;
                }
                ErrorTarget = ResolvePath(WorkDir!);
                var names = _pending.GroupBy(c => c.Name ?? "", StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
                if (names != null)
                    throw new XTunerException(ErrorIds.SeveralRunsOneWorkDir,
                        $"{_pending.Count} configs arrived with one -WorkDir, so each would run in WORKDIR/NAME, but {names.Count()} are named '{names.Key}': " +
                        "give them different names (Set-XTunerConfig -Name), or start them one at a time, each with its own -WorkDir.");
                foreach (var config in _pending)
                {
                    var workDir = System.IO.Path.Combine(ResolvePath(WorkDir!), config.Name ?? "xtuner");
                    WriteVerbose($"Several configs share -WorkDir: '{config.Name}' runs in {workDir}.");
                    Start(config, workDir);
                }
            }
            catch (XTunerException e)
            {
                // EndProcessing is outside the base's ProcessRecord: the same rule, applied here.
                ThrowTerminatingError(RecordOf(e, ErrorTarget));
            }
        }

        private void Start(XTunerConfig config, string? workDir)
        {
            ErrorTarget = config;
            var options = Options(workDir);
            var launcher = MyInvocation.BoundParameters.ContainsKey(nameof(Launcher)) ? Launcher : config.Launcher;
            if (launcher == LauncherKind.Slurm)
            {
                SubmitToSlurm(config, options);
                return;
            }
            var plan = LaunchPlanner.PlanLocal(config, options, out var warnings);
            WriteWarnings(warnings);
            // Read-only, so that -WhatIf also reports a work dir that is taken (PrepareWorkDir checks again).
            WorkDirs.CheckCanStart(plan.WorkDir, options.Resume);

            WriteInformation(new InformationRecord(plan, MyInvocation.MyCommand.Name) { Tags = { "LaunchPlan" } });
            if (!ShouldProcess(plan.Describe(), $"Start {plan.Ranks.Count} rank(s) of '{plan.Config.Name}' in {plan.WorkDir}?", "Start training")) return;
            ErrorTarget = plan.WorkDir;
            CudaDevices.RequireFor(plan, CudaDevices.Visible());
            LaunchPlanner.PrepareWorkDir(plan, options.Resume);
            if (AsJob.IsPresent) StartJob(plan);
            else Train(plan);
        }

        /// <summary>Ctrl+C: the pipeline thread stops the ranks (see <see cref="Train"/>).</summary>
        protected override void StopProcessing() => _cancel.Cancel();

        /// <summary>PowerShell disposes the command when its pipeline ends; StopProcessing may come until then.</summary>
        public void Dispose() => _cancel.Dispose();

        private System.Collections.Generic.IEnumerable<XTunerConfig> ReadConfigs()
        {
            switch (ParameterSetName)
            {
                case NameSet:
                    return new[] { ConfigCatalogue.Get(Name!) };
                case PathSet:
                case LiteralPathSet:
                    bool literal = ParameterSetName == LiteralPathSet;
                    return (literal ? LiteralPath! : Path!)
                        .SelectMany(p => ConfigPaths.Resolve(this, p, literal))
                        .Select(ConfigYaml.Load)
                        .ToList();
                default:
                    return new[] { Config! };
            }
        }

        /// <summary>A config that cannot be read stops the command: nothing of the pipeline should train half-configured.</summary>
        private LaunchOptions Options(string? workDir)
        {
            var bound = MyInvocation.BoundParameters;
            var options = new LaunchOptions
            {
                BaseDirectory = CurrentDirectory,
                WorkDir = workDir,
                Resume = Resume.IsPresent || ResumeFrom != null,
                ResumeFrom = ResumeFrom != null ? ResolvePath(ResumeFrom) : null,
                Events = true,
            };
            if (bound.ContainsKey(nameof(SequenceParallelSize))) options.SequenceParallelSize = SequenceParallelSize;
            if (bound.ContainsKey(nameof(GpusPerNode))) options.GpusPerNode = GpusPerNode;
            if (bound.ContainsKey(nameof(Device))) options.Device = Device;
            if (bound.ContainsKey(nameof(MaxSteps))) options.MaxSteps = MaxSteps;
            if (bound.ContainsKey(nameof(RanksPerGpu))) options.ConfigOptions.Add(ConfigYaml.ToAssignment("ranks_per_gpu", RanksPerGpu));
            if (bound.ContainsKey(nameof(FusedKernels))) options.ConfigOptions.Add(ConfigYaml.ToAssignment("fused_kernels", FusedKernels!));
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

        /// <summary>
        /// -Launcher Slurm: writes WORK_DIR/submit.sbatch and submits it (sbatch), or, inside an allocation, runs the srun
        /// step there and waits for it. -WhatIf prints the script. Returns the XTunerJob.
        /// </summary>
        private void SubmitToSlurm(XTunerConfig config, LaunchOptions options)
        {
            var plan = SlurmLauncher.Plan(config, options);
            WriteWarnings(plan.Warnings);
            WriteInformation(new InformationRecord(plan, MyInvocation.MyCommand.Name) { Tags = { "LaunchPlan" } });
            var action = plan.InAllocation
                ? $"Run {plan.Ranks} rank(s) with srun in allocation {plan.AllocationJobId}"
                : $"Submit {plan.Ranks} rank(s) with sbatch";
            if (!ShouldProcess(plan.Script, $"{action} ('{plan.Config.Name}', {plan.WorkDir})?", "Start training")) return;
            ErrorTarget = plan.WorkDir;
            var job = SlurmLauncher.Submit(plan, j => WriteProgress(JobProgress.Update(j)), _cancel.Token);
            ErrorTarget = job;
            var failure = SlurmJobs.Failure(job);
            if (failure != null) throw failure;
            WriteObject(job);
        }

        private void StartJob(LaunchPlan plan)
        {
            var job = new XTunerTrainingJob($"{MyInvocation.MyCommand.Name} {plan.Config.Name}", plan);
            try
            {
                job.Start();
            }
            catch (XTunerException)
            {
                job.Dispose();
                throw;
            }
            JobRepository.Add(job);
            WriteObject(job);
        }

        /// <summary>
        /// Runs the ranks in the foreground. Rank 0's events arrive on the launcher's threads; they are written here, on
        /// the pipeline thread, the only one PowerShell lets write. Ctrl+C cancels the wait, and this thread stops the ranks.
        /// </summary>
        private void Train(LaunchPlan plan)
        {
            using var launcher = new LocalLauncher(plan, echoRankZero: true);
            launcher.Start();
            var progress = new TrainingProgress(plan);
            string? stoppedAt = null;
            try
            {
                foreach (var message in launcher.Messages.GetConsumingEnumerable(_cancel.Token))
                {
                    if (message.Line != null) WriteVerbose(message.Line);
                    else if (message.Event?.Kind == "checkpoint") WriteVerbose($"Checkpoint saved: {message.Event.Path}");
                    else if (message.Event?.Kind == RunEvent.StoppedKind) stoppedAt = message.Event.Path;
                    else if (message.Event != null && progress.Update(message.Event) is ProgressRecord record) WriteProgress(record);
                }
            }
            catch (OperationCanceledException)
            {
                launcher.Stop();
                throw new PipelineStoppedException();
            }
            WriteProgress(progress.Completed());
            launcher.WaitForExit(_cancel.Token);
            var run = XTunerRun.Load(plan.WorkDir) ?? launcher.Run;
            if (run.State == RunState.Stopped)
                WriteWarning(stoppedAt != null
                    ? $"The run in {plan.WorkDir} was stopped after step {run.Step} with a checkpoint ({stoppedAt}); Start-XTunerTraining -Resume continues it."
                    : $"The run in {plan.WorkDir} was stopped at step {run.Step} (Stop-XTunerTraining).");
            if (PassThru.IsPresent) WriteObject(run);
        }
    }
}
